/* libFuzzer target: the scenario parser must return 0 or an error with a file:line message for
 * any input, never crash, leak or read out of bounds. `make fuzz` runs it; `fuzz-replay` (in
 * `make test`) replays the seed corpus under the sanitizers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "FILE:LINE: what", LINE > 0: the scenario's own (fuzz.ini:), or a trace CSV's that an input
 * names by an absolute path (/etc/passwd:1: header ...), which is as right */
static int names_file_line(const char *m)
{
	for (const char *c = strchr(m, ':'); c; c = strchr(c + 1, ':')) {
		const char *d = c + 1;
		unsigned long line = 0;
		while (*d >= '0' && *d <= '9')
			line = line * 10 + (unsigned long)(*d++ - '0');
		if (c > m && d > c + 1 && line > 0 && d[0] == ':' && d[1] == ' ')
			return 1;
	}
	return 0;
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
	struct dvmq_scenario *s = NULL;
	struct dvmq_diag d = { { 0 } };
	/* no base directory: a [trace] names files relative to the cwd, which fuzzing does not want */
	int rc = dvmq_scenario_load_text("fuzz.ini", text, "/nonexistent", &s, &d);
	if (rc == 0) {
		/* evaluate every load once, as the simulator would */
		for (size_t i = 0; i < s->n_vms; i++)
			(void)dvmq_load_at(&s->vms[i].load, 1000000000ull);
		dvmq_scenario_free(s);
	} else if (!names_file_line(d.msg)) {
		abort(); /* every error names the file and line */
	}
	free(text);
	return 0;
}
