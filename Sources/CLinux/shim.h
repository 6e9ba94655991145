// Linux-specific calls and constants that Swift's Glibc module does not expose (they sit behind _GNU_SOURCE).
// Declared here with their glibc signatures; the values are the kernel ABI's, the same on x86_64 and aarch64.
#include <sys/types.h>
#include <sys/xattr.h>
#include <stddef.h>
#include <pthread.h>

extern int sync_file_range(int fd, off_t offset, off_t nbytes, unsigned int flags);
extern int syncfs(int fd);
extern int pthread_setname_np(pthread_t thread, const char *name);

static const int clinux_O_NOATIME = 01000000;
static const int clinux_O_TMPFILE = 020200000;
static const int clinux_AT_EMPTY_PATH = 0x1000;
static const int clinux_SEEK_DATA = 3;
static const int clinux_SEEK_HOLE = 4;
static const unsigned int clinux_SYNC_FILE_RANGE_WRITE = 2;

/// Starts writeback of every dirty page of the file without waiting.
static inline int clinux_start_writeback(int fd) { return sync_file_range(fd, 0, 0, clinux_SYNC_FILE_RANGE_WRITE); }

/// Names the calling thread (visible in top/ps), at most 15 bytes.
static inline int clinux_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

// glibc malloc tuning (mallopt with M_ARENA_MAX, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD): see System/MallocTuning.swift.
#include <malloc.h>

// Plugin processes (Plugin Isolation = process) keep their crash note in a memfd shared with the host.
extern int memfd_create(const char *name, unsigned int flags);
static const unsigned int clinux_MFD_CLOEXEC = 1;
