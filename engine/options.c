/* options: release what the scenario loader allocated. */
#include "options.h"

#include <stdlib.h>

void options_free(struct options *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->ntargets; i++)
		free(o->targets[i].host);
	free(o->targets);
	free(o->target);
	free(o->scenario_shown);
	free(o->dests);
	addrset_free(o->bind);
	free(o->bind);
	free(o->bind_spec);
	free(o->resolver.servers);
	free(o->tls.ca);
	free(o->tls.sni);
	free(o->tls.cert);
	free(o->tls.key);
	free(o->tls.alpn);
	free(o->conn_segs);
	free(o->rate_segs);
	free(o->const_request);
	for (uint32_t i = 0; i < o->nconst_by_target; i++)
		free(o->const_by_target[i].p);
	free(o->const_by_target);
	free(o->json_path);
	free(o->hlog_path);
	free(o->html_path);
	free(o->samples_path);
	free(o->samples_parts);
	free(o->samples_tmpdir);
	for (size_t i = 0; i < o->nthreshold_specs; i++) {
		free(o->threshold_specs[i].metric);
		free(o->threshold_specs[i].condition);
		free(o->threshold_specs[i].where);
	}
	free(o->threshold_specs);
}
