/* version.h - the one place the version is written. */
#ifndef FLUSSOC_VERSION_H
#define FLUSSOC_VERSION_H
#define FLUSSOC_VERSION "0.1.0"
#endif
