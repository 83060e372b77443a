/* report_files: the report files a run writes (--json, --hlog, --html). */
#include "report.h"

#include <errno.h>

int report_files(const struct options *o, const struct run_result *r, char *err, size_t errlen)
{
	(void)r;
	if (o->json_path || o->hlog_path || o->html_path) {
		snprintf(err, errlen, "report files are not written yet by this build");
		return -ENOSYS;
	}
	return 0;
}
