/* libFuzzer target: the host configuration parser, its machine checks and its diff must, for any
 * input, return 0 or an error naming the file and line, never crash, leak or read out of bounds;
 * a config that loads checks against a machine without crashing, renders as JSON, and differs in
 * nothing from itself. `make fuzz-config` runs it; `fuzz-replay-config` (in `make test`) replays
 * the seed corpus fuzz/corpus-config under the sanitizers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/config_fixture.h"
#include "dvmq/config_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore(void *ctx, const char *line)
{
	(void)ctx;
	(void)line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* a gen scenario or a capture is a file: keep the fuzzer off devices that block or never end */
	if (strstr(text, "/dev") || strstr(text, "/proc") || strstr(text, "/sys")) {
		free(text);
		return 0;
	}
	/* a private directory with one scenario, scen.ini, for `scenario = scen.ini` to play */
	static const char *dir;
	if (!dir && (!cfgt_write("scen.ini", cfgt_scenario) || !(dir = cfgt_dir())))
		abort();
	struct dvmq_config *c = NULL, *again = NULL;
	struct dvmq_diag d = { { 0 } };
	int rc = dvmq_config_load_text("fuzz.conf", text, dir, &c, &d);
	if (rc == 0) {
		struct dvmq_machine *m = cfgt_machine(4, 2);
		struct dvmq_config_cpus cpus = { 0 };
		struct dvmq_config_diff *diff = NULL;
		if (!m)
			abort();
		rc = dvmq_config_check_machine(c, m, &cpus, ignore, NULL, &d);
		if (rc != 0 && strncmp(d.msg, "fuzz.conf:", 10) != 0)
			abort();
		json_decref(dvmq_config_json(c, rc == 0 ? &cpus : NULL));
		/* the same text twice is the same host */
		if (dvmq_config_load_text("fuzz.conf", text, dir, &again, &d) != 0 ||
		    dvmq_config_diff(c, again, &diff) != 0 || !dvmq_config_diff_empty(diff))
			abort();
		dvmq_config_diff_describe(diff, ignore, NULL);
		dvmq_config_diff_free(diff);
		dvmq_config_free(again);
		dvmq_config_cpus_free(&cpus);
		dvmq_config_free(c);
		free(m);
	} else if (strncmp(d.msg, "fuzz.conf:", 10) != 0) {
		abort(); /* every error names the file and line */
	}
	free(text);
	return 0;
}
