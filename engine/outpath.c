/* outpath: where an output file goes, resolved once (see outpath.h). */
#include "outpath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"

/*
 * A regular file (or a new one) is written to a temp file of a unique name,
 * made with O_EXCL beside it, and renamed over it: a reader never sees half
 * a file, and nothing that was at a guessable name (a FILE.tmp symlink, a
 * directory) is followed or in the way. What is not a regular file is never
 * replaced: a FIFO or a character device (/dev/null, a terminal) is opened
 * and written as it is, as `>` would; a symlink is followed to the file it
 * names, which is replaced and the link kept (a link to a file not there
 * yet creates it where the link points).
 */

/* The path a chain of symlinks ends at, which need not exist (*out, to
 * free). 0 or -errno (-ELOOP past 40 links, as the kernel counts). */
static int follow_links(const char *path, char **out)
{
	char *cur = strdup(path);

	for (int hops = 0; cur && hops < 40; hops++) {
		struct stat lst;
		char buf[PATH_MAX];
		if (lstat(cur, &lst) < 0 || !S_ISLNK(lst.st_mode)) {
			*out = cur;
			return 0;
		}
		ssize_t n = readlink(cur, buf, sizeof(buf) - 1);
		if (n < 0) {
			int rc = -errno;
			free(cur);
			return rc;
		}
		buf[n] = '\0';
		const char *slash = strrchr(cur, '/');
		char *next = NULL;
		/* A relative target is relative to the link's directory. */
		if (buf[0] == '/' || !slash)
			next = strdup(buf);
		else if (asprintf(&next, "%.*s%s", (int)(slash - cur + 1), cur, buf) < 0)
			next = NULL;
		free(cur);
		cur = next;
	}
	if (!cur)
		return -ENOMEM;
	free(cur);
	return -ELOOP;
}

int outpath_resolve(const char *path, struct outpath *d, char *why, size_t whylen)
{
	struct stat st;

	memset(d, 0, sizeof(*d));
	why[0] = '\0';
	if (stat(path, &st) < 0) {
		int rc = -errno;
		struct stat lst;
		if (rc != -ENOENT)
			return rc;
		d->kind = OUTPATH_FILE;
		if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
			return follow_links(path, &d->real); /* created where the link points */
		d->real = strdup(path);
		return d->real ? 0 : -ENOMEM;
	}
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		d->kind = OUTPATH_DIRECT;
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file, a FIFO or a character device");
		return -EINVAL;
	}
	d->kind = OUTPATH_FILE;
	d->exists = true;
	d->mode = st.st_mode & 07777;
	d->real = realpath(path, NULL); /* the file a symlink names is replaced, not the link */
	return d->real ? 0 : -errno;
}

void outpath_free(struct outpath *d)
{
	free(d->real);
	d->real = NULL;
}

int outpath_temp_open(const char *real, char **tmp)
{
	const char *slash = strrchr(real, '/');
	int dirlen = slash ? (int)(slash - real + 1) : 0;
	uint64_t x = clock_ns() ^ ((uint64_t)getpid() << 24);

	for (int i = 0; i < 100; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		if (asprintf(tmp, "%.*s.%s.%06llx.tmp", dirlen, real, real + dirlen,
			     (unsigned long long)(x >> 40)) < 0)
			return -ENOMEM;
		int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd >= 0)
			return fd;
		int rc = -errno;
		free(*tmp);
		*tmp = NULL;
		if (rc != -EEXIST)
			return rc;
	}
	return -EEXIST;
}

int outpath_check(const char *path, const struct outpath *d)
{
	char *tmp = NULL;

	if (d->kind == OUTPATH_DIRECT)
		return access(path, W_OK) < 0 ? -errno : 0;
	int fd = outpath_temp_open(d->real, &tmp);
	if (fd < 0)
		return fd;
	close(fd);
	unlink(tmp);
	free(tmp);
	return 0;
}
