// The crash guard: a fatal signal (a segfault in a plugin's C extension, an abort) while a plugin call runs ends
// the process with a line that names the plugin, the call and the file, and exit status 3 ("failed"), instead of
// the bare signal status and a backtrace of the host. Outside plugin calls the previous handlers (Swift's
// backtracer) get the signal as before.
//
// Everything the handler touches is prepared beforehand: the note is a fixed buffer the host fills before each
// call, and the handler uses only write(2), sigaction(2), raise(3) and _exit(2), which are async-signal-safe.
#define _GNU_SOURCE
#include "bareosfd_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static char note[2048];
static volatile sig_atomic_t note_length;
static const int guarded[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define GUARDED_COUNT (int)(sizeof(guarded) / sizeof(guarded[0]))
static struct sigaction previous[GUARDED_COUNT];
static int installed;
// The note's copy in memory shared with the parent process (plugin processes only): a 32-bit length, the text.
static char *shared;
static size_t shared_size;
// Set in plugin processes: a fatal signal ends the process by the signal itself, printing nothing.
static int quiet_end;

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    default: return "a fatal signal";
    }
}

static void put(const char *text, size_t length) {
    while (length > 0) {
        ssize_t written = write(STDERR_FILENO, text, length);
        if (written <= 0) {
            return;
        }
        text += written;
        length -= (size_t)written;
    }
}

static void on_fatal_signal(int sig) {
    size_t length = (size_t)note_length;
    if (length > 0 && quiet_end) {
        // A plugin process: the parent reads the shared note and names the signal; end by the signal itself
        // (unblocked first: a handler runs with its own signal blocked, and raise would only queue it).
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, sig);
        signal(sig, SIG_DFL);
        pthread_sigmask(SIG_UNBLOCK, &only, NULL);
        raise(sig);
        _exit(128 + sig);
    }
    if (length > 0) {
        static const char prefix[] = "optionhost: ";
        static const char middle[] = " while a Python plugin call ran: ";
        static const char suffix[] = "\noptionhost: the job failed (the process ended; the next command marks the job failed)\n";
        put(prefix, sizeof(prefix) - 1);
        const char *name = signal_name(sig);
        put(name, strlen(name));
        put(middle, sizeof(middle) - 1);
        put(note, length);
        put(suffix, sizeof(suffix) - 1);
        _exit(3);
    }
    // Not in a plugin call: the handler that was there before (Swift's backtracer, or the default) takes it.
    for (int i = 0; i < GUARDED_COUNT; i++) {
        if (guarded[i] == sig) {
            sigaction(sig, &previous[i], NULL);
        }
    }
    raise(sig);
}

int opfd_crash_guard_install(void) {
    if (installed) {
        return 0;
    }
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_fatal_signal;
    sigemptyset(&action.sa_mask);
    // SA_ONSTACK: a stack overflow in a plugin still gets its line when an alternate stack is set (Swift's
    // backtracer sets one on its threads; without one the kernel ends the process as before).
    action.sa_flags = SA_ONSTACK;
    for (int i = 0; i < GUARDED_COUNT; i++) {
        if (sigaction(guarded[i], &action, &previous[i]) != 0) {
            return -1;
        }
    }
    installed = 1;
    return 0;
}

void opfd_crash_note(const char *text, size_t length) {
    note_length = 0;
    if (length > sizeof(note)) {
        length = sizeof(note);
    }
    memcpy(note, text, length);
    note_length = (sig_atomic_t)length;
    if (shared != NULL) {
        uint32_t kept = (uint32_t)(length < shared_size - sizeof(uint32_t) ? length : shared_size - sizeof(uint32_t));
        uint32_t none = 0;
        // Length 0 first: a parent reading after a death mid-copy sees no note rather than a torn one.
        memcpy(shared, &none, sizeof(none));
        memcpy(shared + sizeof(uint32_t), text, kept);
        __atomic_store_n((uint32_t *)(void *)shared, kept, __ATOMIC_RELEASE);
    }
}

void opfd_crash_note_clear(void) {
    note_length = 0;
    if (shared != NULL) {
        __atomic_store_n((uint32_t *)(void *)shared, 0, __ATOMIC_RELEASE);
    }
}

void opfd_crash_note_share(void *region, size_t size, int quiet) {
    if (region == NULL || size <= sizeof(uint32_t)) {
        // No region (or one too small to hold a note): notes stay in this process only.
        shared = NULL;
        shared_size = 0;
        quiet_end = 0;
        return;
    }
    shared_size = size;
    shared = region;
    quiet_end = quiet;
}
