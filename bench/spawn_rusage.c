/*
 * spawn_rusage <path> [args...]: runs the program, waits for it, and writes one line to
 * fd 3: "<wall ns> <user us> <sys us> <max rss KiB> <exit code>" (exit code 128+N for
 * signal N). Used by bench/runtime_driver.py.
 *
 * Why a C helper instead of spawning from Python: ru_maxrss keeps the high-water RSS of the
 * memory image a process had before execve(2), and a child of Python starts as a copy of
 * Python's ~15 MiB image, which would hide a runtime's own 3 MiB. This helper is linked
 * statically and tiny, so the runtime's RSS is its own. It also times fork..wait with
 * CLOCK_MONOTONIC at nanosecond resolution and reads CPU time from wait4(2) in
 * microseconds (GNU time prints centiseconds).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec t0, t1;
    struct rusage ru;
    int status, code;
    pid_t pid;

    if (argc < 2) {
        fprintf(stderr, "usage: %s <path> [args...]\n", argv[0]);
        return 2;
    }
    /* The report pipe must not reach the command: a container process holding it open
     * would keep the reader waiting until the container exits. */
    if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0) {
        perror("fd 3");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        execv(argv[1], argv + 1);
        perror(argv[1]);
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    dprintf(3, "%lld %ld %ld %ld %d\n",
            (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec),
            (long)ru.ru_utime.tv_sec * 1000000L + (long)ru.ru_utime.tv_usec,
            (long)ru.ru_stime.tv_sec * 1000000L + (long)ru.ru_stime.tv_usec,
            ru.ru_maxrss, code);
    return 0;
}
