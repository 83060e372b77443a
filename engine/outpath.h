/*
 * outpath: where an output file (a report, the sample log) goes, resolved
 * once. A regular file, or none yet, is replaced whole through a temp file
 * beside it and a rename; a FIFO or a character device is written in place,
 * never replaced; a symlink is followed to the file it names, and the link
 * kept. A directory, a block device and a socket are refused.
 */
#ifndef SURGE_OUTPATH_H
#define SURGE_OUTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum outpath_kind {
	OUTPATH_FILE,   /* a regular file, or none yet: temp file + rename */
	OUTPATH_DIRECT, /* FIFO or character device: opened and written in place */
};

struct outpath {
	enum outpath_kind kind;
	char *real;  /* OUTPATH_FILE: the path to replace, symlinks resolved */
	bool exists; /* OUTPATH_FILE: replaces a file, whose mode it keeps */
	mode_t mode;
};

/* Resolves path (not opened: a FIFO's open would wait for a reader).
 * 0, or -errno with why set to a sentence for a failure strerror does not
 * say (empty otherwise). outpath_free frees d->real either way. */
int outpath_resolve(const char *path, struct outpath *d, char *why, size_t whylen);
void outpath_free(struct outpath *d);

/* Creates a new file beside real, ".NAME.XXXXXX.tmp", with O_EXCL: nothing
 * already there is followed or truncated. Returns the fd and *tmp (to
 * free), or -errno. */
int outpath_temp_open(const char *real, char **tmp);

/* That d can be written without touching what is there: a temp file
 * created and removed beside a regular file, write permission on a FIFO or
 * device. 0 or -errno. */
int outpath_check(const char *path, const struct outpath *d);

#endif
