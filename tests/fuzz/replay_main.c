/*
 * replay_main: the plain main() every harness also links with, so the
 * checked-in corpus replays without libFuzzer (as c-ares does in CI): each
 * argument is a file or a directory whose files are fed, in name order, to
 * LLVMFuzzerTestOneInput. A finding crashes or aborts the process, so the
 * exit status alone says whether the corpus still passes; the last line on
 * stderr counts the inputs run (stdout is the harness's: reports, for one).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Feeds one file: 0, or -errno when it cannot be read. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *bigger = realloc(buf, cap);
			if (!bigger) {
				rc = -ENOMEM;
				goto out;
			}
			buf = bigger;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rc = -EIO;
		goto out;
	}
	/* libFuzzer hands over a buffer of exactly size bytes: so do we, so
	 * ASan sees a read one past the end. */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(exact, buf, len);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
out:
	free(buf);
	fclose(f);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Feeds every regular file of dir in name order; *n counts them. */
static int replay_dir(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t count = 0, cap = 0;
	struct dirent *e;
	int rc = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			char **bigger = realloc(names, cap * sizeof(*names));
			if (!bigger) {
				rc = -ENOMEM;
				goto out;
			}
			names = bigger;
		}
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		if (!(names[count] = malloc(len))) {
			rc = -ENOMEM;
			goto out;
		}
		snprintf(names[count++], len, "%s/%s", dir, e->d_name);
	}
	qsort(names, count, sizeof(*names), by_name);
	for (size_t i = 0; i < count && rc == 0; i++) {
		struct stat st;
		if (stat(names[i], &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if ((rc = replay_file(names[i])) < 0)
			fprintf(stderr, "%s: %s\n", names[i], strerror(-rc));
		else
			(*n)++;
	}
out:
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	size_t n = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n"
				"replays each input through the fuzz harness\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int rc;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			rc = replay_dir(argv[i], &n);
		} else if ((rc = replay_file(argv[i])) == 0) {
			n++;
		}
		if (rc < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(-rc));
			return 1;
		}
	}
	fprintf(stderr, "%zu inputs replayed\n", n);
	return 0;
}
