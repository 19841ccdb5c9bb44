/* SPDX-License-Identifier: MIT */
/*
 * test_log.c - what reaches the user without a log callback: the default stderr log, the
 * environment variables DMACOH_LOG and DMACOH_DEBUG in a statically linked program (this
 * test links the static library), secure_getenv for set-user-ID programs, and log lines that
 * a caller's strings cannot break.
 *
 * Cases that need a program in its initial state (no log callback installed, environment
 * read at load) run this same executable again with DMACOH_TEST_LOG_CHILD naming a scenario;
 * a constructor runs the scenario before the harness's main() installs its own log callback,
 * and after the library's load-time constructor, which has the higher priority.
 */
#include "fixture.h"
#include "t.h"

#include <dmacoh/debug.h>
#include <dmacoh/dma-mapping.h>
#include <dmacoh/memfd.h>
#include <dmacoh/pci.h>
#include <dmacoh/pool.h>
#include <dmacoh/vfio.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_ENV "DMACOH_TEST_LOG_CHILD"
#define SEGV_EXIT 42

/* ---- the child scenarios ---- */

static struct dmacoh_sim *sim;
static struct device card;

/* A simulated card with 64 KiB of memory at 0xfe000000, declared with `mode`. */
static void child_card(int mode)
{
    struct dmacoh_sim_memory m = {.bus = 0xfe000000, .size = 0x10000, .modes = mode};

    if (dmacoh_sim_create(NULL, &sim) || dmacoh_sim_add_memory(sim, &m) ||
        dmacoh_device_init(&card.dmacoh, "card", NULL, dmacoh_sim_platform(sim)) ||
        dma_declare_coherent_memory(&card, 0xfe000000, 0, 0x10000, mode | DMA_MEMORY_EXCLUSIVE) !=
            mode)
        _exit(3);
}

static void child_double_free(void)
{
    dma_addr_t h;
    void *p;

    child_card(DMA_MEMORY_MAP);
    p = dma_alloc_coherent(&card, 4096, &h, 0);
    if (!p)
        _exit(4);
    dma_free_coherent(&card, 4096, p, h);
    dma_free_coherent(&card, 4096, p, h); /* refused: must say so on stderr */
}

static void on_segv(int sig)
{
    (void)sig;
    _exit(SEGV_EXIT);
}

static void child_cookie_load(void)
{
    dma_addr_t h;
    volatile uint32_t *p;

    child_card(DMA_MEMORY_IO);
    p = dma_alloc_coherent(&card, 4096, &h, 0);
    if (!p)
        _exit(4);
    signal(SIGSEGV, on_segv);
    signal(SIGBUS, on_segv);
    printf("read %u\n", (unsigned)*p); /* a cookie: faults in the debug mode */
}

/* A daemon closed descriptor 2, and the memfd window of its device memory got that number:
 * a log line must not land in the window. */
static void child_closed_stderr(void)
{
    struct dmacoh_memfd *m;
    unsigned char buf[256] = {1};
    dma_addr_t h;
    void *p;

    close(2);
    if (dmacoh_memfd_create(0x80000000, 0x10000, &m) || dmacoh_memfd_fd(m) != 2 ||
        dmacoh_device_init(&card.dmacoh, "card", NULL, dmacoh_memfd_platform(m)) ||
        dma_declare_coherent_memory(&card, 0x80000000, 0, 0x10000,
                                    DMA_MEMORY_MAP | DMA_MEMORY_EXCLUSIVE) != DMA_MEMORY_MAP)
        _exit(3);
    p = dma_alloc_coherent(&card, 4096, &h, 0);
    if (!p || h != 0)
        _exit(4);
    dma_free_coherent(&card, 4096, p, h);
    dma_free_coherent(&card, 4096, p, h); /* logged: to the stderr of the load, not to fd 2 */
    if (pread(2, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
        _exit(5);
    for (size_t i = 0; i < sizeof(buf); i++)
        if (buf[i])
            _exit(6);
    printf("window clean\n");
}

__attribute__((constructor)) static void child_main(void)
{
    const char *mode = getenv(CHILD_ENV);

    if (!mode)
        return;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "double_free")) {
        child_double_free();
    } else if (!strcmp(mode, "silenced")) {
        dmacoh_set_log_fn(NULL, NULL, 0);
        child_double_free();
    } else if (!strcmp(mode, "debug_flags")) {
        printf("%u %lu\n", dmacoh_debug_get(), getauxval(AT_SECURE));
    } else if (!strcmp(mode, "closed_stderr")) {
        child_closed_stderr();
    } else if (!strcmp(mode, "cookie_load")) {
        child_cookie_load();
    } else {
        _exit(2);
    }
    _exit(0);
}

/* ---- the parent side ---- */

struct run {
    char out[4096], err[4096];
    int status;
};

static void slurp(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;

    while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
}

/* Runs `exe` (this program, or a copy) with scenario `mode` and the environment variables
 * in env (NULL-terminated "NAME=value" list) added; stdout and stderr are captured. */
static void run_child(const char *exe, const char *mode, const char *const *env, struct run *rn)
{
    const char *emulator = getenv("DMACOH_TEST_EMULATOR");
    int out[2], err[2];
    pid_t pid;

    T_OK(pipe(out));
    T_OK(pipe(err));
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        unsetenv("DMACOH_DEBUG");
        unsetenv("DMACOH_LOG");
        setenv(CHILD_ENV, mode, 1);
        for (; env && *env; env++)
            putenv((char *)(uintptr_t)*env);
        if (emulator) /* a program of another CPU: run it again the way it was run */
            execlp(emulator, emulator, exe, (char *)NULL);
        else
            execl(exe, exe, (char *)NULL);
        _exit(errno == ENOEXEC ? 126 : 127);
    }
    close(out[1]);
    close(err[1]);
    slurp(err[0], rn->err, sizeof(rn->err)); /* small outputs: no deadlock on the other pipe */
    slurp(out[0], rn->out, sizeof(rn->out));
    close(out[0]);
    close(err[0]);
    T_ASSERT(waitpid(pid, &rn->status, 0) == pid);
    if (WIFEXITED(rn->status) && WEXITSTATUS(rn->status) == 126)
        t_skip("this program cannot execute itself (ENOEXEC: a program of another CPU run by "
               "user-mode emulation without binfmt_misc)");
}

static const char *self(void)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

    T_ASSERT(n > 0);
    path[n] = '\0';
    return path;
}

static unsigned lines(const char *s)
{
    unsigned n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void double_free_without_a_callback_prints_one_line(void)
{
    struct run rn;

    run_child(self(), "double_free", NULL, &rn);
    T_ASSERT(WIFEXITED(rn.status) && WEXITSTATUS(rn.status) == 0);
    T_EQ_INT(lines(rn.err), 1);
    T_ASSERT(strncmp(rn.err, "dmacoh: free on 'card'", 22) == 0);
    T_ASSERT(strstr(rn.err, "\n") == rn.err + strlen(rn.err) - 1);
}

static void a_reused_descriptor_2_is_never_written(void)
{
    struct run rn;

    run_child(self(), "closed_stderr", NULL, &rn);
    T_ASSERT(WIFEXITED(rn.status));
    T_EQ_INT(WEXITSTATUS(rn.status), 0);
    T_ASSERT(strcmp(rn.out, "window clean\n") == 0);
    T_EQ_INT(lines(rn.err), 1); /* still told, on the stderr the program started with */
    T_ASSERT(strstr(rn.err, "double free") != NULL);
}

static void the_default_log_is_silenced_or_leveled(void)
{
    static const char *const none[] = {"DMACOH_LOG=none", NULL};
    static const char *const info[] = {"DMACOH_LOG=info", NULL};
    struct run rn;

    run_child(self(), "silenced", NULL, &rn); /* dmacoh_set_log_fn(NULL, ...) */
    T_ASSERT(WIFEXITED(rn.status) && WEXITSTATUS(rn.status) == 0);
    T_EQ_INT(lines(rn.err), 0);
    run_child(self(), "double_free", none, &rn);
    T_EQ_INT(lines(rn.err), 0);
    run_child(self(), "double_free", info, &rn); /* the declaration too, then the refusal */
    T_ASSERT(strstr(rn.err, "dmacoh: declared on 'card'") == rn.err);
    T_EQ_INT(lines(rn.err), 2);
}

static void debug_env_applies_to_a_static_program(void)
{
    static const char *const all[] = {"DMACOH_DEBUG=all", NULL};
    static const char *const bad[] = {"DMACOH_DEBUG=everything", NULL};
    struct run rn;

    run_child(self(), "debug_flags", all, &rn);
    T_EQ_INT(strtoul(rn.out, NULL, 10), DMACOH_DEBUG_ALL);
    run_child(self(), "debug_flags", bad, &rn);
    T_EQ_INT(strtoul(rn.out, NULL, 10), 0);
    T_ASSERT(strstr(rn.err, "DMACOH_DEBUG='everything' is not") != NULL);
}

static void an_io_cookie_faults_in_a_static_program(void)
{
    static const char *const all[] = {"DMACOH_DEBUG=all", "ASAN_OPTIONS=handle_segv=0", NULL};
    struct run rn;

    run_child(self(), "cookie_load", all, &rn);
    T_ASSERT(WIFEXITED(rn.status));
    T_EQ_INT(WEXITSTATUS(rn.status), SEGV_EXIT);
    T_ASSERT(strstr(rn.out, "read") == NULL);
}

/* A set-user-ID copy of this program, owned by nobody and run by root, must not take
 * DMACOH_DEBUG or DMACOH_LOG from its caller. */
static void setuid_programs_ignore_the_environment(void)
{
    static const char *const env[] = {"DMACOH_DEBUG=all", "DMACOH_LOG=debug", NULL};
    char dir[] = "/tmp/dmacoh-suid-XXXXXX", copy[64];
    struct run rn;
    int in, outfd;
    char buf[65536];
    ssize_t n;

    if (geteuid() != 0)
        t_skip("making a set-user-ID program owned by another user needs root");
    T_ASSERT(mkdtemp(dir) != NULL);
    T_OK(chmod(dir, 0755));
    snprintf(copy, sizeof(copy), "%s/test_log", dir);
    in = open(self(), O_RDONLY | O_CLOEXEC);
    outfd = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    T_ASSERT(in >= 0 && outfd >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        T_EQ_INT(write(outfd, buf, (size_t)n), n);
    close(in);
    close(outfd);
    T_OK(chown(copy, 65534, 65534));
    T_OK(chmod(copy, 04755));
    run_child(copy, "debug_flags", env, &rn);
    unlink(copy);
    rmdir(dir);
    if (WIFEXITED(rn.status) && WEXITSTATUS(rn.status) == 127)
        t_skip("the set-user-ID copy could not be run (nosuid?)");
    if (!strchr(rn.out, ' ') || strtoul(strchr(rn.out, ' ') + 1, NULL, 10) != 1)
        t_skip("the set-user-ID bit was not honoured here (nosuid, no_new_privs)");
    T_EQ_INT(strtoul(rn.out, NULL, 10), 0);
    T_EQ_INT(lines(rn.err), 0);
    /* The same copy without the set-user-ID bit would have taken them: the control. */
    run_child(self(), "debug_flags", env, &rn);
    T_EQ_INT(strtoul(rn.out, NULL, 10), DMACOH_DEBUG_ALL);
}

static char last_line[1024];

static void keep(void *user, int level, const char *msg)
{
    (void)user;
    (void)level;
    snprintf(last_line, sizeof(last_line), "%s", msg);
}

static void caller_strings_are_bounded_and_escaped(void)
{
    struct dmacoh_sim *s;
    struct dmacoh_device d;
    char name[300];

    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    memcpy(name, "evil\ndmacoh: forged\x1b[2J", 23);
    T_OK(dmacoh_sim_create(NULL, &s));
    T_OK(dmacoh_device_init(&d, name, NULL, dmacoh_sim_platform(s)));
    dmacoh_set_log_fn(keep, NULL, DMACOH_LOG_DEBUG);
    T_ERR(dmacoh_release_coherent_memory(&d, 7), DMACOH_EINVAL); /* no name in that line */
    T_ERR(dmacoh_declare_coherent_memory(&d, 0x1000, 0x1000, 0x1001, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_EINVAL);
    T_ASSERT(strchr(last_line, '\n') == NULL && strchr(last_line, '\x1b') == NULL);
    T_ASSERT(strstr(last_line, "'evil\\x0admacoh: forged\\x1b[2Jnnn") != NULL);
    T_ASSERT(strstr(last_line, "nnn...'") != NULL); /* cut, and said to be cut */
    T_ASSERT(strstr(last_line, "granule") != NULL); /* the message itself survives */
    /* The name takes at most 96 characters of the line: the quote that closes it is within
     * the 8 + 15 + 96 + 3 characters of prefix, "declare on '", name and "...". */
    T_ASSERT(strstr(last_line, "...'") - last_line <= 8 + 15 + 96);
    T_OK(dmacoh_device_fini(&d));
    /* A name of bytes that are all escaped (UTF-8 text) cannot push the reason out either. */
    memset(name, 0xe6, sizeof(name) - 1);
    T_OK(dmacoh_device_init(&d, name, NULL, dmacoh_sim_platform(s)));
    T_ERR(dmacoh_declare_coherent_memory(&d, 0x1000, 0x1000, 0x1001, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_EINVAL);
    T_ASSERT(strstr(last_line, "\\xe6\\xe6...': size 0x1001 is not") != NULL);
    T_ASSERT(strstr(last_line, "granule 0x1000") != NULL);
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_sim_destroy(s));
}

/* The RFC says a release of a device without a region does nothing: not an error line. */
static void release_without_a_region_is_not_an_error(void)
{
    struct dmacoh_sim *s;
    struct device d;

    T_OK(dmacoh_sim_create(NULL, &s));
    T_OK(dmacoh_device_init(&d.dmacoh, "bare", NULL, dmacoh_sim_platform(s)));
    dmacoh_set_log_fn(keep, NULL, DMACOH_LOG_WARN);
    last_line[0] = '\0';
    dma_release_declared_memory(&d);
    T_EQ_INT(last_line[0], 0);
    T_ERR(dmacoh_release_coherent_memory(&d.dmacoh, 0), DMACOH_ENODEV); /* still said by code */
    T_EQ_INT(last_line[0], 0);
    T_OK(dmacoh_device_fini(&d.dmacoh));
    T_OK(dmacoh_sim_destroy(s));
}

/* Each refusal names its own cause, not a list of possible ones. */
static void log_lines_name_the_real_problem(void)
{
    struct dmacoh_sim *s;
    struct dmacoh_device d;
    struct dmacoh_pci *pci;
    dmacoh_dma_addr_t h;
    void *p;

    T_OK(dmacoh_sim_create(NULL, &s));
    T_OK(dmacoh_device_init(&d, "dev", NULL, dmacoh_sim_platform(s)));
    dmacoh_set_log_fn(keep, NULL, DMACOH_LOG_DEBUG);
    T_ERR(dmacoh_alloc_coherent(&d, 4096, 0, 0, NULL, &h), DMACOH_EINVAL);
    T_ASSERT(strstr(last_line, "'dev': the CPU address out-pointer is NULL") != NULL);
    T_ERR(dmacoh_alloc_coherent(&d, 4096, 0, 0, &p, NULL), DMACOH_EINVAL);
    T_ASSERT(strstr(last_line, "'dev': the DMA handle out-pointer is NULL") != NULL);
    T_ERR(dmacoh_alloc_coherent(&d, 0, 0, 0, &p, &h), DMACOH_EINVAL);
    T_ASSERT(strstr(last_line, "'dev': size 0") != NULL);
    T_ERR(dmacoh_free_coherent(&d, 4096, NULL, 0), DMACOH_EINVAL);
    T_ASSERT(strstr(last_line, "'dev': the CPU address is NULL") != NULL);
    T_ERR(dmacoh_alloc_coherent(&d, SIZE_MAX, 0, 0, &p, &h), DMACOH_EOVERFLOW);
    T_ASSERT(strstr(last_line, "bytes is more than an allocation may have (2^62 bytes") != NULL);
    {
        struct dmacoh_pool *pool;

        T_ERR(dmacoh_pool_create(NULL, "descs", &d, 16, 16, 0, NULL), DMACOH_EINVAL);
        T_ASSERT(strstr(last_line, "pool create 'descs': out is NULL") != NULL);
        T_OK(dmacoh_pool_create(&pool, "descs", &d, 16, 16, 0, NULL));
        T_ERR(dmacoh_pool_alloc(pool, 0, NULL, &h), DMACOH_EINVAL);
        T_ASSERT(strstr(last_line, "pool alloc: the CPU address out-pointer is NULL") != NULL);
        T_ERR(dmacoh_pool_free(pool, NULL, 0), DMACOH_EINVAL);
        T_ASSERT(strstr(last_line, "pool free: the CPU address is NULL") != NULL);
        T_OK(dmacoh_pool_destroy(pool, 0));
    }
    T_ERR(dmacoh_pci_open("0000:00:01.0", NULL, NULL), DMACOH_EINVAL);
    T_ASSERT(strstr(last_line, "pci open '0000:00:01.0': out is NULL") != NULL);
    T_ERR(dmacoh_pci_open("00:01.0\n", NULL, &pci), DMACOH_EINVAL);
    T_ASSERT(strstr(last_line, "'00:01.0\\x0a' is not a PCI address") != NULL);
    T_ERR(dmacoh_vfio_open("0000:00:01.0", NULL, NULL), DMACOH_EINVAL);
    T_ASSERT(strstr(last_line, "vfio open '0000:00:01.0': out is NULL") != NULL);
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_sim_destroy(s));
}

static const struct t_case cases[] = {
    T_CASE(log_lines_name_the_real_problem),
    T_CASE(double_free_without_a_callback_prints_one_line),
    T_CASE(a_reused_descriptor_2_is_never_written),
    T_CASE(the_default_log_is_silenced_or_leveled),
    T_CASE(debug_env_applies_to_a_static_program),
    T_CASE(an_io_cookie_faults_in_a_static_program),
    T_CASE(setuid_programs_ignore_the_environment),
    T_CASE(caller_strings_are_bounded_and_escaped),
    T_CASE(release_without_a_region_is_not_an_error),
};

T_MAIN(cases)
