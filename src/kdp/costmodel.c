/* The cost model (dvmq/costmodel.h): per processor an exponentially weighted, ridge-regularised,
 * non-negative least-squares fit of busy fraction against packet and byte rates. Invariant: S and
 * r hold the weighted sums of x x' and x y over the intervals seen (x = [1, Mpps, GB/s], y = busy
 * fraction), and coef is the non-negative minimiser for them, recomputed at each update. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/costmodel.h"

#define CM_N 3

struct cm_cpu {
	double S[CM_N][CM_N], r[CM_N];
	double theta[CM_N]; /* c0 (fraction), a (fraction per Mpps), b (fraction per GB/s) */
	uint64_t intervals;
};

struct dvmq_costmodel {
	uint32_t n;
	double forget;
	struct cm_cpu cpu[];
};

struct dvmq_costmodel *dvmq_costmodel_create(uint32_t n_cpus, double forget)
{
	if (n_cpus == 0 || n_cpus > 65536 || !(forget > 0.0 && forget <= 1.0))
		return NULL;
	struct dvmq_costmodel *m = calloc(1, sizeof(*m) + n_cpus * sizeof(struct cm_cpu));
	if (!m)
		return NULL;
	m->n = n_cpus;
	m->forget = forget;
	return m;
}

void dvmq_costmodel_destroy(struct dvmq_costmodel *m)
{
	free(m);
}

/* Solves A t = b for the variables in `free` (a bitmask), the others held at 0, by Gaussian
 * elimination with partial pivoting. Returns 0, or -1 when singular. */
static int cm_solve(double A[CM_N][CM_N], const double b[CM_N], unsigned free, double t[CM_N])
{
	int idx[CM_N], n = 0;
	for (int i = 0; i < CM_N; i++) {
		t[i] = 0.0;
		if (free & (1u << i))
			idx[n++] = i;
	}
	double M[CM_N][CM_N + 1];
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < n; j++)
			M[i][j] = A[idx[i]][idx[j]];
		M[i][n] = b[idx[i]];
	}
	for (int c = 0; c < n; c++) {
		int p = c;
		for (int i = c + 1; i < n; i++)
			if (fabs(M[i][c]) > fabs(M[p][c]))
				p = i;
		if (fabs(M[p][c]) < 1e-300)
			return -1;
		for (int j = 0; j <= n; j++) {
			double tmp = M[c][j];
			M[c][j] = M[p][j];
			M[p][j] = tmp;
		}
		for (int i = 0; i < n; i++) {
			if (i == c)
				continue;
			double f = M[i][c] / M[c][c];
			for (int j = c; j <= n; j++)
				M[i][j] -= f * M[c][j];
		}
	}
	for (int i = 0; i < n; i++)
		t[idx[i]] = M[i][n] / M[i][i];
	return 0;
}

/* The non-negative minimiser of t'At - 2b't: the best of the solutions with some coefficients
 * held at zero whose free coefficients are all >= 0 (the KKT point is one of them). */
static void cm_nnls(double A[CM_N][CM_N], const double b[CM_N], double out[CM_N])
{
	double best = INFINITY;
	memset(out, 0, sizeof(double) * CM_N);
	for (unsigned free = 0; free < (1u << CM_N); free++) {
		double t[CM_N];
		if (cm_solve(A, b, free, t) != 0)
			continue;
		int ok = 1;
		for (int i = 0; i < CM_N; i++)
			ok &= t[i] >= 0.0;
		if (!ok)
			continue;
		double J = 0.0;
		for (int i = 0; i < CM_N; i++) {
			J -= 2.0 * b[i] * t[i];
			for (int j = 0; j < CM_N; j++)
				J += t[i] * A[i][j] * t[j];
		}
		if (J < best) {
			best = J;
			memcpy(out, t, sizeof(t));
		}
	}
}

void dvmq_costmodel_update(struct dvmq_costmodel *m, uint32_t i, uint64_t interval_ns, uint64_t net_ns,
			   uint64_t packets, uint64_t bytes)
{
	if (i >= m->n || interval_ns == 0)
		return;
	struct cm_cpu *c = &m->cpu[i];
	double sec = (double)interval_ns / 1e9;
	double x[CM_N] = { 1.0, (double)packets / sec / 1e6, (double)bytes / sec / 1e9 };
	double y = (double)net_ns / (double)interval_ns;
	for (int a = 0; a < CM_N; a++) {
		c->r[a] = m->forget * c->r[a] + x[a] * y;
		for (int b = 0; b < CM_N; b++)
			c->S[a][b] = m->forget * c->S[a][b] + x[a] * x[b];
	}
	c->intervals++;
	/* ridge, each coefficient against its own regressor's scale (so that Mpps, GB/s and the
	 * constant weigh alike), small: it decides only what the data cannot. Two things they cannot:
	 * the split between packets and bytes when every frame has one size, and, under steady
	 * traffic (one rate for many intervals, once the idle ones are forgotten), the split between
	 * the constant and the per-frame cost. The constant is held down a thousand times harder, so
	 * that time the fit cannot place goes to the queues, where the engine sees it, and not to c0,
	 * which no queue is given (a plain ridge on all three gave c0 more than 90 % of a steady
	 * processor's network time: the queues looked idle to the engine) */
	double A[CM_N][CM_N];
	memcpy(A, c->S, sizeof(A));
	static const double ridge[CM_N] = { 1e-3, 1e-6, 1e-6 };
	for (int a = 0; a < CM_N; a++)
		A[a][a] += ridge[a] * c->S[a][a] + 1e-12;
	cm_nnls(A, c->r, c->theta);
}

struct dvmq_costmodel_coef dvmq_costmodel_coef(const struct dvmq_costmodel *m, uint32_t i)
{
	struct dvmq_costmodel_coef k = { 0 };
	if (i >= m->n)
		return k;
	const struct cm_cpu *c = &m->cpu[i];
	k.const_frac = c->theta[0];
	k.ns_per_packet = c->theta[1] * 1e3; /* fraction per Mpps = us per packet */
	k.ns_per_byte = c->theta[2];         /* fraction per GB/s = ns per byte */
	k.intervals = c->intervals;
	return k;
}

uint64_t dvmq_costmodel_attribute(const struct dvmq_costmodel *m, uint32_t i, uint64_t interval_ns, uint64_t net_ns,
				  const uint64_t *packets, const uint64_t *bytes, uint32_t n, uint64_t *busy_ns)
{
	memset(busy_ns, 0, sizeof(uint64_t) * n);
	if (i >= m->n || n == 0)
		return 0;
	const struct cm_cpu *c = &m->cpu[i];
	double fixed = c->theta[0] * (double)interval_ns;
	double avail = (double)net_ns - fixed;
	if (avail <= 0.0)
		return 0;
	double sum = 0.0, pk = 0.0;
	for (uint32_t q = 0; q < n; q++) {
		sum += c->theta[1] * (double)packets[q] * 1e3 + c->theta[2] * (double)bytes[q];
		pk += (double)packets[q];
	}
	if (pk == 0.0)
		return 0;
	uint64_t given = 0;
	for (uint32_t q = 0; q < n; q++) {
		double share = sum > 0.0 ? (c->theta[1] * (double)packets[q] * 1e3 + c->theta[2] * (double)bytes[q]) / sum
					 : (double)packets[q] / pk;
		busy_ns[q] = (uint64_t)(share * avail);
		given += busy_ns[q];
	}
	return given;
}
