/* Stand-in for `ranksweep run` in the SLURM rehearsals: an MPI program with the same command line
 * and exit codes (0 complete, 1 error, 2 usage, 3 drained with work remaining) that "works" through
 * the units of a job, records progress in a state file, drains on SIGUSR1/SIGTERM and resumes.
 *
 *   fake_sweep run JOB -o STATE [--resume] [--slice I/N]
 *   fake_sweep status --json STATE
 *
 * JOB is a text file of `key value` lines: `units U` (required), `unit_ms M` (time per unit per rank,
 * default 200), `fail_at K` (exit 1 when global unit K would start; tests the error path),
 * `drain_at K` (act as if SIGUSR1 arrived once K units are done, in a run that started with fewer;
 * a deterministic drain for tests without a cluster), `exit0_at K` (stop once K units are done and
 * exit 0 with work remaining, as a launcher did after one of its nodes died), `crash_starts N` (the
 * first N launches die of SIGSEGV on rank 0 before reading or writing STATE, as Open MPI has been
 * seen to crash in MPI_Init; counted in STATE.crashes), `segv_at K` (rank 0 dies of SIGSEGV when
 * global unit K would start, after STATE was written: a crash in the sweep). Each step hands
 * one unit to each rank; after a step rank 0 rewrites STATE atomically (tmp, fsync, rename) as
 *   done D total T sum S runs R
 * (S = sum of the global indices of finished units, R = number of runs that touched the file), so a
 * test can check that every unit was done exactly once across drains and restarts. With --slice I/N
 * only units u with u % N == I belong to this run. `status --json` prints {"state": S} as
 * `ranksweep status --json` does: complete, drained (work remains) or error (a failed unit left
 * STATE.error beside STATE); exit 1 without a state file. */
#include <mpi.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_DONE = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_REMAINS = 3 };

/* Written only by the handler; read at safe points. No I/O in the handler. */
static volatile sig_atomic_t g_stop_signal = 0;

static void on_signal(int sig)
{
    g_stop_signal = sig;
}

static int install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a sleeping unit is woken and finishes its remaining time by hand. */
    if (sigaction(SIGUSR1, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    return 0;
}

static int g_rank = 0;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
    if (g_rank != 0)
        return;
    char stamp[32];
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", localtime(&now));
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%s] fake_sweep: ", stamp);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
}

typedef struct {
    long units, unit_ms, fail_at, drain_at, exit0_at, crash_starts, segv_at;
} job_t;

static int read_job(const char *path, job_t *job)
{
    job->units = -1;
    job->unit_ms = 200;
    job->fail_at = -1;
    job->drain_at = -1;
    job->exit0_at = -1;
    job->crash_starts = 0;
    job->segv_at = -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        logmsg("error: cannot open job file %s: %s", path, strerror(errno));
        return EXIT_ERROR;
    }
    char key[64];
    long value;
    int line = 0, rc = EXIT_DONE;
    char buf[256];
    while (fgets(buf, sizeof buf, f)) {
        line++;
        if (buf[0] == '#' || buf[0] == '\n')
            continue;
        if (sscanf(buf, "%63s %ld", key, &value) != 2 || value < 0) {
            logmsg("error: %s:%d: expected `key non-negative-integer`", path, line);
            rc = EXIT_ERROR;
        } else if (strcmp(key, "units") == 0) {
            job->units = value;
        } else if (strcmp(key, "unit_ms") == 0) {
            job->unit_ms = value;
        } else if (strcmp(key, "fail_at") == 0) {
            job->fail_at = value;
        } else if (strcmp(key, "drain_at") == 0) {
            job->drain_at = value;
        } else if (strcmp(key, "exit0_at") == 0) {
            job->exit0_at = value;
        } else if (strcmp(key, "crash_starts") == 0) {
            job->crash_starts = value;
        } else if (strcmp(key, "segv_at") == 0) {
            job->segv_at = value;
        } else {
            logmsg("error: %s:%d: unknown key '%s' (expected units, unit_ms, fail_at, drain_at, "
                   "exit0_at, crash_starts, segv_at)", path, line, key);
            rc = EXIT_ERROR;
        }
    }
    fclose(f);
    if (rc == EXIT_DONE && job->units < 0) {
        logmsg("error: %s: missing `units`", path);
        rc = EXIT_ERROR;
    }
    return rc;
}

typedef struct {
    long done, total, sum, runs;
} progress_t;

static int read_state(const char *path, progress_t *p)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 1 : -1;
    int n = fscanf(f, "done %ld total %ld sum %ld runs %ld", &p->done, &p->total, &p->sum, &p->runs);
    fclose(f);
    return n == 4 ? 0 : -1;
}

/* crash_starts: the number of launches that crashed so far, from STATE.crashes; if fewer than
 * `limit`, records one more and dies of SIGSEGV (rank 0 only, before STATE is touched). */
static void crash_at_start(const char *state_path, long limit)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.crashes", state_path);
    long n = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd >= 0) {
        char buf[32] = {0};
        if (read(fd, buf, sizeof buf - 1) > 0)
            n = strtol(buf, NULL, 10);
        close(fd);
    }
    if (n >= limit)
        return;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%ld\n", n + 1);
        if (write(fd, buf, (size_t)len) != len)
            logmsg("warning: cannot record the crash in %s", path);
        close(fd);
    }
    logmsg("crashing at start (crash_starts: %ld of %ld)", n + 1, limit);
    raise(SIGSEGV);
}

static int write_state(const char *path, const progress_t *p)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "done %ld total %ld sum %ld runs %ld\n", p->done, p->total, p->sum, p->runs);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        return -1;
    }
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

/* Sleeps ms milliseconds even if a signal wakes it: the unit's work is not abandoned half done. */
static void work_ms(long ms)
{
    struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

static int usage(void)
{
    logmsg("usage: fake_sweep run JOB -o STATE [--resume] [--slice I/N]");
    return EXIT_USAGE;
}

static int run(int argc, char **argv)
{
    const char *job_path = NULL, *state_path = NULL;
    int resume = 0;
    long slice_i = 0, slice_n = 1;
    if (argc < 2 || strcmp(argv[1], "run") != 0)
        return usage();
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            state_path = argv[++i];
        } else if (strcmp(argv[i], "--resume") == 0) {
            resume = 1;
        } else if (strcmp(argv[i], "--slice") == 0 && i + 1 < argc) {
            char extra;
            if (sscanf(argv[++i], "%ld/%ld%c", &slice_i, &slice_n, &extra) != 2 || slice_n < 1
                || slice_i < 0 || slice_i >= slice_n) {
                logmsg("error: --slice expects I/N with 0 <= I < N, got '%s'", argv[i]);
                return EXIT_USAGE;
            }
        } else if (argv[i][0] != '-' && !job_path) {
            job_path = argv[i];
        } else {
            logmsg("error: unexpected argument '%s'", argv[i]);
            return usage();
        }
    }
    if (!job_path || !state_path)
        return usage();

    job_t job;
    int rc = read_job(job_path, &job);
    if (rc != EXIT_DONE)
        return rc;
    /* Units of this slice, in order: the k-th is global unit slice_i + k * slice_n. */
    long total = job.units > slice_i ? (job.units - slice_i + slice_n - 1) / slice_n : 0;

    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    progress_t p = {0, total, 0, 0};
    int err = 0;
    if (g_rank == 0 && job.crash_starts > 0)
        crash_at_start(state_path, job.crash_starts);
    if (g_rank == 0) {
        int s = read_state(state_path, &p);
        if (s == 0 && !resume) {
            logmsg("error: %s exists; pass --resume to continue it", state_path);
            err = EXIT_ERROR;
        } else if (s < 0) {
            logmsg("error: cannot read state file %s", state_path);
            err = EXIT_ERROR;
        } else if (s == 1) {
            p = (progress_t){0, total, 0, 0};
        } else if (p.total != total) {
            logmsg("error: %s holds %ld units, this job slice has %ld", state_path, p.total, total);
            err = EXIT_ERROR;
        }
        p.runs++;
        if (!err && write_state(state_path, &p) != 0) {
            logmsg("error: cannot write %s: %s", state_path, strerror(errno));
            err = EXIT_ERROR;
        }
    }
    MPI_Bcast(&err, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (err)
        return err;
    MPI_Bcast(&p.done, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    MPI_Bcast(&p.sum, 1, MPI_LONG, 0, MPI_COMM_WORLD);

    const char *restarts = getenv("SLURM_RESTART_COUNT");
    logmsg("run %ld: %s at unit %ld/%ld on %d ranks (slice %ld/%ld, SLURM_RESTART_COUNT=%s)", p.runs,
           p.done ? "resuming" : "starting", p.done, total, size, slice_i, slice_n,
           restarts ? restarts : "unset");

    long start = p.done;
    while (p.done < total) {
        if (job.drain_at >= 0 && start < job.drain_at && p.done >= job.drain_at)
            g_stop_signal = SIGUSR1;
        /* Safe point: every rank agrees whether to stop before any starts a new step. */
        int mine = g_stop_signal, any = 0;
        MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (any) {
            logmsg("got %s; drained at unit %ld/%ld, work remains (exit 3)",
                   any == SIGUSR1 ? "SIGUSR1" : any == SIGTERM ? "SIGTERM" : "a signal", p.done, total);
            return EXIT_REMAINS;
        }
        long step = total - p.done < size ? total - p.done : size;
        long first_global = slice_i + p.done * slice_n;
        if (job.fail_at >= 0 && job.fail_at >= first_global
            && job.fail_at < first_global + step * slice_n) {
            logmsg("error: unit %ld failed (fail_at in %s)", job.fail_at, job_path);
            if (g_rank == 0) {
                char mark[4096];
                snprintf(mark, sizeof mark, "%s.error", state_path);
                FILE *m = fopen(mark, "w");
                if (m)
                    fclose(m);
            }
            return EXIT_ERROR;
        }
        if (g_rank == 0 && job.segv_at >= 0 && job.segv_at >= first_global
            && job.segv_at < first_global + step * slice_n) {
            logmsg("crashing at unit %ld (segv_at)", job.segv_at);
            raise(SIGSEGV);
        }
        if (job.exit0_at >= 0 && p.done >= job.exit0_at) {
            logmsg("stopping at unit %ld/%ld with work remaining, exit 0 (exit0_at)", p.done, total);
            return EXIT_DONE;
        }
        if (g_rank < step)
            work_ms(job.unit_ms);
        for (long k = 0; k < step; k++)
            p.sum += slice_i + (p.done + k) * slice_n;
        p.done += step;
        if (g_rank == 0)
            err = write_state(state_path, &p) != 0;
        MPI_Bcast(&err, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (err) {
            logmsg("error: cannot write %s: %s", state_path, strerror(errno));
            return EXIT_ERROR;
        }
    }
    logmsg("complete: %ld/%ld units (exit 0)", p.done, total);
    return EXIT_DONE;
}

/* `status --json STATE`: serial, no MPI. */
static int status(const char *state_path)
{
    progress_t p;
    if (read_state(state_path, &p) != 0) {
        logmsg("error: no readable state file %s", state_path);
        return EXIT_ERROR;
    }
    char mark[4096];
    snprintf(mark, sizeof mark, "%s.error", state_path);
    const char *s = access(mark, F_OK) == 0 ? "error" : p.done == p.total ? "complete" : "drained";
    printf("{\"state\": \"%s\", \"runs_done\": %ld, \"runs_total\": %ld}\n", s, p.done, p.total);
    return EXIT_DONE;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "status") == 0 && strcmp(argv[2], "--json") == 0)
        return status(argv[3]);
    /* Before MPI_Init: SLURM may signal while the ranks still start up, and SIGUSR1's default
     * action would kill the rank. Installed again afterwards in case the MPI runtime replaced it. */
    if (install_handlers() != 0) {
        perror("fake_sweep: sigaction");
        return EXIT_ERROR;
    }
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    if (install_handlers() != 0) {
        perror("fake_sweep: sigaction");
        MPI_Abort(MPI_COMM_WORLD, EXIT_ERROR);
    }
    int rc = run(argc, argv);
    MPI_Finalize();
    return rc;
}
