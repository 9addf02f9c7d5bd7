/* libFuzzer target for the control protocol: any bytes, as request lines through the registry
 * and every control command on a fake daemon state, must each get one well-formed reply; and any
 * bytes as a reply line (input starting with '>') must decode or be refused, never crash. Aborts
 * when a reply is not a well-formed reply. `make fuzz-ctl` runs it; `fuzz-replay-ctl` (in
 * `make test`) replays fuzz/corpus-ctl under the sanitizers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/ctl_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const struct dvmq_ctl_outcome *o)
{
	if (!o->reply || o->len == 0 || o->reply[o->len - 1] != '\n' || memchr(o->reply, '\n', o->len - 1))
		abort();
	struct dvmq_ctl_reply rep;
	struct dvmq_ctl_error err;
	if (dvmq_ctl_decode_reply(o->reply, o->len - 1, &rep, &err) != 0 || rep.is_event || rep.error.code != o->code)
		abort();
	if (o->code != DVMQ_CTL_OK && !rep.error.msg[0])
		abort(); /* every refusal says why */
	dvmq_ctl_reply_clear(&rep);
}

static void requests(const char *text, size_t size)
{
	static struct ctl_fake f;
	ctl_fake_init(&f, 3);
	ctl_fake_add(&f, "web-1", "02:00:00:00:00:01", 100, 0.6);
	ctl_fake_add(&f, "db", "02:00:00:00:00:02", 50, 0.3);
	ctl_fake_tick(&f, 1000000000ull);
	struct dvmq_ctl_state st = { &ctl_fake_ops, &f };
	struct dvmq_ctl_registry *reg;
	if (dvmq_ctl_registry_create("fuzz", &reg))
		return;
	if (dvmq_ctl_commands_register(reg, &st) == 0) {
		size_t start = 0;
		while (start < size) {
			const char *nl = memchr(text + start, '\n', size - start);
			size_t len = nl ? (size_t)(nl - (text + start)) : size - start;
			struct dvmq_ctl_outcome o;
			dvmq_ctl_registry_handle(reg, text + start, len, &o);
			check_reply(&o);
			free(o.reply);
			start += len + 1;
		}
	}
	dvmq_ctl_registry_destroy(reg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	const char *text = (const char *)data;
	if (size && text[0] == '>') {
		struct dvmq_ctl_reply rep;
		struct dvmq_ctl_error err;
		if (dvmq_ctl_decode_reply(text + 1, size - 1, &rep, &err) == 0)
			dvmq_ctl_reply_clear(&rep);
		return 0;
	}
	requests(text, size);
	return 0;
}
