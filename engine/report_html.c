#include "report.h"
int report_html(FILE *f, const struct options *o, const struct run_result *r,
		const char *const *sources, size_t nsources) { return 0; }
