"""smtp_sink.py - an aiosmtpd handler for the e2e tests: keeps every
message exactly as the server received it.

    python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c smtp_sink.Sink DIR

(with tests/e2e on PYTHONPATH).  Each message accepted becomes DIR/N.eml,
its DATA bytes as received, and DIR/N.env, its envelope: lines
"from=<addr>", "to=<addr>,<addr>" and "tls=yes" or "tls=no" (whether the
session had switched to TLS).  A recipient whose address contains
"refuse" is refused with a 550; one containing "later" with a 451 (a
temporary failure, for retries)."""
import itertools
import os


class Sink:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = itertools.count(1)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("smtp_sink.Sink takes one argument: the directory")
        return cls(args[0])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "refuse" in address:
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        if "later" in address:
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.count)
        path = os.path.join(self.outdir, "%d.eml" % n)
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        tls = "yes" if getattr(session, "ssl", None) else "no"
        with open(os.path.join(self.outdir, "%d.env" % n), "w") as f:
            f.write("from=%s\nto=%s\ntls=%s\n"
                    % (envelope.mail_from, ",".join(envelope.rcpt_tos), tls))
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"
