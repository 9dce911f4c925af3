// Power-loss shim: an LD_PRELOAD library that watches one data directory from outside the engine
// and keeps, in a journal, what a power cut at any moment could have left of it. It knows nothing
// of Sluice: it sees only libc calls. test/helpers/powerloss/rewind.ts reads the journal after the
// process was killed with SIGKILL and turns the directory into such a state.
//
// Configuration (environment, read once at load and then removed, so that children of the
// process run without the shim):
//   SLUICE_POWERLOSS_DIR      absolute, symlink-free path of the directory to watch
//   SLUICE_POWERLOSS_JOURNAL  an empty directory outside it, for the journal
//
// THE MODEL (what may be lost). Nothing is assumed of the file system beyond what POSIX and the
// Linux man pages promise; in particular ext4's data=ordered (data before the metadata that
// exposes it) is not assumed, and neither is fsync of a file making its directory entry durable.
//   Data. Every file (an inode, whatever names it has) has a durable image. A successful
//     fsync(fd) or fdatasync(fd) makes the file's whole current content and its size durable;
//     msync(MS_SYNC) of part of a shared mapping makes that range of the file, and the file's
//     size, durable (synchronized I/O data integrity completion includes the metadata needed to
//     read the data back); a write through a descriptor opened with O_SYNC or O_DSYNC, or a
//     pwritev2 with RWF_SYNC/RWF_DSYNC, makes the bytes it wrote durable. Nothing else does:
//     msync(MS_ASYNC), sync_file_range (whatever its flags: it flushes neither metadata nor the
//     device's cache), close, munmap. Every other page of a file may hold, after the cut, its
//     durable content or its current one, each page independently of every other (write-back
//     has no order), and the file's size may be its durable or its current one; a page past the
//     durable size that did not survive reads as zeros.
//   Names. Every directory has a durable listing (name -> inode). A successful fsync of the
//     directory makes its current listing durable; sync() and syncfs() make everything under the
//     watched directory durable, data and names. Changes of a directory's listing since its last
//     fsync (creations, renames, unlinks, mkdir, rmdir) are journaled in the order they returned;
//     after a cut a prefix of them survives, per directory (a journaling file system commits
//     one directory's metadata in order), the empty prefix included: a file created and never
//     named in a synced listing vanishes, a rename comes undone, an unlinked file comes back with
//     its durable content. A rename between two directories is atomic on the file systems that
//     matter, so the rewinder never splits one: a directory's surviving prefix ends before it.
//   Reads and metadata queries (read, pread, fstatat, statx, ...) change nothing and are not
//   hooked. libuv's io_uring path would bypass libc: the harness runs children with
//   UV_USE_IO_URING=0.
//   Not modelled: hard links and O_TMPFILE (the engine uses neither), symbolic links under the
//     directory, torn pages (a page is written whole or not at all), syncs of a file after its
//     last name is gone (such an inode is no longer watched), and write errors.
//
// Why content, not a log of writes: the durable image is what undoing every unsynced write
// yields, and it is cheaper to keep. Just before each sync the shim reads the file (or the
// msynced range) back through its own descriptor, from the page cache, keeping every 4 KiB page
// that differs from the image, and copies those into the image once the sync has succeeded (a
// failed sync makes nothing durable). Reading before the call is what POSIX promises (what was
// written before it) and never counts a write racing the sync; of two overlapping syncs of one
// file, the snapshot taken later wins. That sees writes through shared mappings, which are no system call at all, exactly like
// pwrite, ftruncate, fallocate and posix_fallocate (whose effect on content and size is read back
// at the next sync): only syncs and directory changes need hooks. Each sync costs a read of the
// whole file (msync: of the range), so keep files small (test segments of 128 KiB - 1 MiB).
//
// THE JOURNAL (text files in SLUICE_POWERLOSS_JOURNAL; the rewinder ignores a torn last line):
//   records         one line per watched inode, appended when first seen:
//                     "rec <id> <f|d> <dev> <ino>"; "retire <id>" when its last name went (its
//                     inode number may then be reused by a new file, under a new id)
//   img/<id>        the durable image of file <id>: its length is the durable size
//   dir/<id>        the durable listing of directory <id>, replaced whole (tmp + rename):
//                     "seq <n>" (the last journaled change it includes), then "<f|d> <id> <name>"
//   ops             the journaled directory changes, one a line, "<seq> <dir id> <op> ...":
//                     create <id> <name> | mkdir <id> <name> | unlink <id> <name> |
//                     rename <id> <old> <new> | move <id> <name> (a rename between directories,
//                     logged in both) | exchange <id> <name>
//   The watched directory itself is record 1. Names with a newline or a space are refused
//   (written to "errors", which the rewinder reports).
//
// Threading: every hook that touches the journal holds one mutex. write() and close() take it
// only for descriptors opened with O_SYNC/O_DSYNC (a lock-free table says which), so a signal
// handler writing to its self-pipe never waits on it. The shim's own I/O calls the real libc
// functions, never its hooks.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define PAGE_BYTES 4096
#define BLOCK_BYTES (64 * 1024)
#define FD_TABLE 65536

// ---- the real functions ----
static int (*real_open)(const char*, int, ...);
static int (*real_openat)(int, const char*, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void*, size_t);
static ssize_t (*real_pwrite)(int, const void*, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec*, int);
static ssize_t (*real_pwritev)(int, const struct iovec*, int, off_t);
static ssize_t (*real_pwritev2)(int, const struct iovec*, int, off_t, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_msync)(void*, size_t, int);
static void* (*real_mmap)(void*, size_t, int, int, int, off_t);
static int (*real_munmap)(void*, size_t);
static void* (*real_mremap)(void*, size_t, size_t, int, ...);
static void (*real_sync)(void);
static int (*real_syncfs)(int);
static int (*real_sync_file_range)(int, off_t, off_t, unsigned int);
static int (*real_rename)(const char*, const char*);
static int (*real_renameat)(int, const char*, int, const char*);
static int (*real_renameat2)(int, const char*, int, const char*, unsigned int);
static int (*real_unlink)(const char*);
static int (*real_unlinkat)(int, const char*, int);
static int (*real_rmdir)(const char*);
static int (*real_remove)(const char*);
static int (*real_mkdir)(const char*, mode_t);
static int (*real_mkdirat)(int, const char*, mode_t);
static ssize_t (*real_pread)(int, void*, size_t, off_t);
static int (*real_ftruncate)(int, off_t);

static pthread_once_t resolved = PTHREAD_ONCE_INIT;

static void resolve_all(void) {
#define R(name) real_##name = dlsym(RTLD_NEXT, #name)
  R(open); R(openat); R(close); R(write); R(pwrite); R(writev); R(pwritev); R(pwritev2);
  R(fsync); R(fdatasync); R(msync); R(mmap); R(munmap); R(mremap); R(sync); R(syncfs);
  R(sync_file_range); R(rename); R(renameat); R(renameat2); R(unlink); R(unlinkat); R(rmdir);
  R(remove); R(mkdir); R(mkdirat); R(pread); R(ftruncate);
#undef R
}
#define REAL(name) (pthread_once(&resolved, resolve_all), real_##name)

// ---- state (guarded by mu, except fd_sync and the flags set before main) ----
static char watch_dir[PATH_MAX];
static size_t watch_len;
static char journal[PATH_MAX - 128];  // room for the names below it
static int enabled;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic unsigned char fd_sync[FD_TABLE];  // 1: opened with O_SYNC or O_DSYNC
static _Atomic int mapping_count;

struct record {
  dev_t dev;
  ino_t ino;
  int id;
  char type;  // 'f' or 'd'
  int live;   // 0 once retired: its inode number is free for a new file
  unsigned long taken, applied;  // generations of whole-file sync snapshots (before_fsync)
};
static struct record* records;
static size_t record_count, record_cap;
static int next_id = 1;
static long seq;  // directory changes journaled so far

struct mapping {
  uintptr_t addr;
  size_t len;
  off_t offset;
  int rfd;  // read-only descriptor of the mapped file (the page cache, read back)
  int id;
};
static struct mapping* mappings;
static size_t map_cap;

// ---- small helpers (callers hold mu unless noted) ----
static void journal_path(char* out, const char* rel) {
  snprintf(out, PATH_MAX, "%s/%s", journal, rel);
}

static void append_line(const char* rel, const char* line) {
  char p[PATH_MAX];
  journal_path(p, rel);
  int fd = REAL(open)(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)!REAL(write)(fd, line, strlen(line));  // one write: whole or absent after a kill
  REAL(close)(fd);
}

static void note_error(const char* what, const char* path) {
  char line[PATH_MAX + 64];
  snprintf(line, sizeof line, "%s %s\n", what, path);
  append_line("errors", line);
}

static int under_watch(const char* abs) {
  return strncmp(abs, watch_dir, watch_len) == 0 && (abs[watch_len] == '/' || abs[watch_len] == 0);
}

// The path a descriptor was opened at, or "" (the file's last name is gone).
static void fd_path(int fd, char* out) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, PATH_MAX - 1);
  out[n < 0 ? 0 : n] = 0;
  if (n > 10 && strcmp(out + n - 10, " (deleted)") == 0) out[0] = 0;
}

static int reopen_readonly(int fd) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  return REAL(open)(link, O_RDONLY | O_CLOEXEC);
}

static struct record* find_live(dev_t dev, ino_t ino) {
  for (size_t i = 0; i < record_count; i++) {
    if (records[i].live && records[i].ino == ino && records[i].dev == dev) return &records[i];
  }
  return NULL;
}

static void write_listing_file(int id, long at_seq, const char* body, size_t body_len) {
  char rel[64], p[PATH_MAX], tmp[PATH_MAX + 8];
  snprintf(rel, sizeof rel, "dir/%d", id);
  journal_path(p, rel);
  snprintf(tmp, sizeof tmp, "%s.tmp", p);
  int fd = REAL(open)(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char head[48];
  int n = snprintf(head, sizeof head, "seq %ld\n", at_seq);
  (void)!REAL(write)(fd, head, (size_t)n);
  if (body_len > 0) (void)!REAL(write)(fd, body, body_len);
  REAL(close)(fd);
  REAL(rename)(tmp, p);  // the listing is replaced whole, even if the process dies right here
}

// The watched inode behind `st`, journaled as new if it was not watched yet.
static struct record* record_for(const struct stat* st) {
  struct record* r = find_live(st->st_dev, st->st_ino);
  if (r != NULL) return r;
  if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) return NULL;
  if (record_count == record_cap) {
    size_t cap = record_cap ? record_cap * 2 : 256;
    struct record* grown = realloc(records, cap * sizeof *records);
    if (grown == NULL) return NULL;
    records = grown;
    record_cap = cap;
  }
  r = &records[record_count++];
  r->dev = st->st_dev;
  r->ino = st->st_ino;
  r->id = next_id++;
  r->type = S_ISDIR(st->st_mode) ? 'd' : 'f';
  r->live = 1;
  r->taken = r->applied = 0;
  // Nothing of a new inode is durable yet: an empty image, an empty listing.
  if (r->type == 'f') {
    char rel[64], p[PATH_MAX];
    snprintf(rel, sizeof rel, "img/%d", r->id);
    journal_path(p, rel);
    int fd = REAL(open)(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) REAL(close)(fd);
  } else {
    write_listing_file(r->id, seq, NULL, 0);
  }
  char line[128];
  snprintf(line, sizeof line, "rec %d %c %llu %llu\n", r->id, r->type,
           (unsigned long long)st->st_dev, (unsigned long long)st->st_ino);
  append_line("records", line);
  return r;
}

static void retire(struct record* r) {
  if (r == NULL || !r->live) return;
  r->live = 0;
  char line[48];
  snprintf(line, sizeof line, "retire %d\n", r->id);
  append_line("records", line);
}

// What a sync is to make durable, read before the sync starts: POSIX makes durable what was
// written before the call, and a write racing the sync must not count as synced.
struct snapshot {
  int id;
  uint64_t size;
  size_t count, cap;
  uint64_t* pos;  // of each page kept, with its bytes in data[k * PAGE_BYTES]
  uint32_t* len;
  char* data;
};

static void snapshot_free(struct snapshot* s) {
  free(s->pos);
  free(s->len);
  free(s->data);
  memset(s, 0, sizeof *s);
}

static int snapshot_keep(struct snapshot* s, uint64_t pos, const char* bytes, size_t len) {
  if (s->count == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    uint64_t* p = realloc(s->pos, cap * sizeof *p);
    if (p != NULL) s->pos = p;
    uint32_t* l = realloc(s->len, cap * sizeof *l);
    if (l != NULL) s->len = l;
    char* d = realloc(s->data, cap * PAGE_BYTES);
    if (d != NULL) s->data = d;
    if (p == NULL || l == NULL || d == NULL) return -1;
    s->cap = cap;
  }
  s->pos[s->count] = pos;
  s->len[s->count] = (uint32_t)len;
  memcpy(s->data + s->count * PAGE_BYTES, bytes, len);
  s->count++;
  return 0;
}

static int open_image(int id, int flags) {
  char rel[64], p[PATH_MAX];
  snprintf(rel, sizeof rel, "img/%d", id);
  journal_path(p, rel);
  return REAL(open)(p, flags | O_CLOEXEC, 0644);
}

// The size of the file behind `rfd` and the pages of [from, to) of it that differ from file
// `id`'s image. 0 on success; on failure (memory) nothing will be made durable.
static int snapshot_take(int id, int rfd, uint64_t from, uint64_t to, struct snapshot* s) {
  memset(s, 0, sizeof *s);
  s->id = id;
  struct stat st;
  if (fstat(rfd, &st) != 0) return -1;
  s->size = (uint64_t)st.st_size;
  if (to > s->size) to = s->size;
  int img = open_image(id, O_RDONLY | O_CREAT);
  if (img < 0) return -1;
  static char cur[BLOCK_BYTES], old[BLOCK_BYTES];  // guarded by mu
  int rc = 0;
  for (uint64_t pos = from & ~(uint64_t)(PAGE_BYTES - 1); rc == 0 && pos < to; pos += BLOCK_BYTES) {
    size_t want = to - pos < BLOCK_BYTES ? (size_t)(to - pos) : BLOCK_BYTES;
    ssize_t n = REAL(pread)(rfd, cur, want, (off_t)pos);
    if (n <= 0) break;
    ssize_t m = REAL(pread)(img, old, (size_t)n, (off_t)pos);
    if (m < 0) m = 0;
    for (ssize_t at = 0; rc == 0 && at < n; at += PAGE_BYTES) {
      size_t len = n - at < PAGE_BYTES ? (size_t)(n - at) : PAGE_BYTES;
      if (at + (ssize_t)len <= m && memcmp(cur + at, old + at, len) == 0) continue;
      rc = snapshot_keep(s, pos + (uint64_t)at, cur + at, len);
    }
  }
  REAL(close)(img);
  if (rc != 0) snapshot_free(s);
  return rc;
}

// Makes a snapshot durable: the image takes the file's size and the pages kept.
static void snapshot_apply(const struct snapshot* s) {
  int img = open_image(s->id, O_RDWR | O_CREAT);
  if (img < 0) return;
  REAL(ftruncate)(img, (off_t)s->size);
  for (size_t k = 0; k < s->count; k++) {
    if (s->pos[k] >= s->size) continue;  // truncated since (only for a range of a mapping)
    REAL(pwrite)(img, s->data + k * PAGE_BYTES, s->len[k], (off_t)s->pos[k]);
  }
  REAL(close)(img);
}

// At once: [from, to) of file `id` and its size become durable (the shim's start, sync(), and
// writes through O_SYNC/O_DSYNC descriptors, which were durable when they returned).
static void make_durable(int id, int rfd, uint64_t from, uint64_t to) {
  struct snapshot s;
  if (snapshot_take(id, rfd, from, to, &s) != 0) return;
  snapshot_apply(&s);
  snapshot_free(&s);
}

static int name_ok(const char* name, const char* where) {
  if (strchr(name, '\n') == NULL && strchr(name, ' ') == NULL) return 1;
  note_error("unjournalable-name", where);
  return 0;
}

// Directory `path`'s current listing, as the body of its listing file; its record's id in *id.
// With `deep`, everything below it becomes durable on the way (data and listings): sync(),
// syncfs() and the shim's start. NULL if it cannot be read.
static char* listing_take(const char* path, int deep, int* id, size_t* body_len) {
  struct stat st;
  if (lstat(path, &st) != 0) return NULL;
  struct record* self = record_for(&st);
  if (self == NULL || self->type != 'd') return NULL;
  *id = self->id;  // record_for below may move the table
  DIR* d = opendir(path);
  if (d == NULL) return NULL;
  size_t cap = 4096, len = 0;
  char* body = malloc(cap);
  struct dirent* e;
  while (body != NULL && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char child[PATH_MAX];
    snprintf(child, sizeof child, "%s/%s", path, e->d_name);
    struct stat cst;
    if (lstat(child, &cst) != 0) continue;
    struct record* r = record_for(&cst);
    if (r == NULL) {
      note_error("unmodelled-file-type", child);
      continue;
    }
    if (!name_ok(e->d_name, child)) continue;
    const char type = r->type;
    const int child_id = r->id;
    if (deep && type == 'f') {
      int rfd = REAL(open)(child, O_RDONLY | O_CLOEXEC);
      if (rfd >= 0) {
        make_durable(child_id, rfd, 0, UINT64_MAX);
        REAL(close)(rfd);
      }
    } else if (deep) {
      int sub_id;
      size_t sub_len;
      char* sub = listing_take(child, 1, &sub_id, &sub_len);
      if (sub != NULL) write_listing_file(sub_id, seq, sub, sub_len);
      free(sub);
    }
    if (len + strlen(e->d_name) + 32 > cap) {
      cap = cap * 2 + strlen(e->d_name);
      char* grown = realloc(body, cap);
      if (grown == NULL) {
        free(body);
        body = NULL;
        break;
      }
      body = grown;
    }
    len += (size_t)snprintf(body + len, cap - len, "%c %d %s\n", type, child_id, e->d_name);
  }
  closedir(d);
  *body_len = len;
  return body;
}

static void make_tree_durable(const char* path) {
  int id;
  size_t len;
  char* body = listing_take(path, 1, &id, &len);
  if (body != NULL) write_listing_file(id, seq, body, len);
  free(body);
}

// ---- directory changes ----
struct parent {
  char dir[PATH_MAX];
  const char* name;  // into the caller's path
  int id;            // 0: not watched
};

// Splits `path` (relative to `dirfd`) into its parent directory's record and its last name.
static void parent_of(int dirfd, const char* path, struct parent* out) {
  out->id = 0;
  out->name = path;
  char base[PATH_MAX];
  if (path[0] == '/') {
    base[0] = 0;
  } else if (dirfd == AT_FDCWD) {
    if (getcwd(base, sizeof base) == NULL) return;
  } else {
    fd_path(dirfd, base);
    if (base[0] == 0) return;
  }
  char full[PATH_MAX * 2];
  snprintf(full, sizeof full, "%s%s%s", base, base[0] ? "/" : "", path);
  char* slash = strrchr(full, '/');
  while (slash != NULL && slash[1] == 0 && slash > full) {  // "a/b/" names b
    *slash = 0;
    slash = strrchr(full, '/');
  }
  if (slash == NULL) return;
  const char* last = strrchr(path, '/');
  out->name = last == NULL ? path : last + 1;
  *slash = 0;
  if (realpath(full[0] ? full : "/", out->dir) == NULL || !under_watch(out->dir)) return;
  struct stat st;
  if (lstat(out->dir, &st) != 0) return;
  struct record* r = record_for(&st);
  if (r != NULL && r->type == 'd') out->id = r->id;
}

static void journal_change(int dir_id, const char* op, int id, const char* name, const char* name2) {
  if (dir_id == 0 || !name_ok(name, name) || (name2 != NULL && !name_ok(name2, name2))) return;
  char line[2 * NAME_MAX + 96];
  snprintf(line, sizeof line, "%ld %d %s %d %s%s%s\n", ++seq, dir_id, op, id, name,
           name2 ? " " : "", name2 ? name2 : "");
  append_line("ops", line);
}

static int lstat_at(int dirfd, const char* path, struct stat* st) {
  return fstatat(dirfd, path, st, AT_SYMLINK_NOFOLLOW);
}

// After a successful open: journal a file the call created under the watched directory.
static void after_open(int fd, int flags) {
  if (fd < 0 || fd >= FD_TABLE) return;
  atomic_store(&fd_sync[fd], (flags & (O_SYNC | O_DSYNC)) ? 1 : 0);
  if (!enabled || !(flags & O_CREAT)) return;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
  char path[PATH_MAX];
  pthread_mutex_lock(&mu);
  if (find_live(st.st_dev, st.st_ino) == NULL) {
    fd_path(fd, path);
    if (path[0] != 0 && under_watch(path)) {
      struct parent par;
      parent_of(AT_FDCWD, path, &par);
      struct record* r = record_for(&st);
      if (r != NULL) journal_change(par.id, "create", r->id, par.name, NULL);
    }
  }
  pthread_mutex_unlock(&mu);
}

static int removal(int dirfd, const char* path, int (*call)(void*), void* arg) {
  if (!enabled) return call(arg);
  pthread_mutex_lock(&mu);
  struct parent par;
  parent_of(dirfd, path, &par);
  struct stat st;
  const int had = par.id != 0 && lstat_at(dirfd, path, &st) == 0;
  int rc = call(arg);
  int saved = errno;
  if (rc == 0 && had) {
    struct record* r = record_for(&st);
    if (r != NULL) {
      journal_change(par.id, "unlink", r->id, par.name, NULL);
      if (S_ISDIR(st.st_mode) || st.st_nlink <= 1) retire(r);
    }
  }
  pthread_mutex_unlock(&mu);
  errno = saved;
  return rc;
}

static int renaming(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
                    unsigned int flags, int (*call)(void*), void* arg) {
  if (!enabled) return call(arg);
  pthread_mutex_lock(&mu);
  struct parent from, to;
  parent_of(olddirfd, oldpath, &from);
  parent_of(newdirfd, newpath, &to);
  struct stat src, dst;
  const int have_src = lstat_at(olddirfd, oldpath, &src) == 0;
  const int have_dst = lstat_at(newdirfd, newpath, &dst) == 0;
  int rc = call(arg);
  int saved = errno;
  if (rc == 0 && have_src && (from.id != 0 || to.id != 0)) {
    struct record* s = record_for(&src);
    const int sid = s ? s->id : 0;
    if (flags & RENAME_EXCHANGE) {
      journal_change(from.id, "exchange", sid, from.name, NULL);
      journal_change(to.id, "exchange", sid, to.name, NULL);
    } else {
      if (have_dst && (dst.st_ino != src.st_ino || dst.st_dev != src.st_dev) &&
          (S_ISDIR(dst.st_mode) || dst.st_nlink <= 1)) {
        retire(find_live(dst.st_dev, dst.st_ino));
      }
      if (from.id == to.id) {
        journal_change(from.id, "rename", sid, from.name, to.name);
      } else {
        journal_change(from.id, "move", sid, from.name, NULL);
        journal_change(to.id, "move", sid, to.name, NULL);
      }
    }
  }
  pthread_mutex_unlock(&mu);
  errno = saved;
  return rc;
}

static void after_mkdir(int rc, int dirfd, const char* path) {
  if (rc != 0 || !enabled) return;
  pthread_mutex_lock(&mu);
  struct parent par;
  parent_of(dirfd, path, &par);
  struct stat st;
  if (par.id != 0 && lstat_at(dirfd, path, &st) == 0) {
    struct record* r = record_for(&st);
    if (r != NULL) journal_change(par.id, "mkdir", r->id, par.name, NULL);
  }
  pthread_mutex_unlock(&mu);
}

// ---- syncs ----
// A sync of one descriptor in flight: what it makes durable if it succeeds, taken before it.
struct pending_sync {
  int id;            // 0: nothing watched
  char type;         // 'f': snap; 'd': listing
  unsigned long generation;
  struct snapshot snap;
  char* listing;
  size_t listing_len;
  long listing_seq;
};

static void before_fsync(int fd, struct pending_sync* p) {
  memset(p, 0, sizeof *p);
  struct stat st;
  if (!enabled || fstat(fd, &st) != 0) return;
  char path[PATH_MAX];
  pthread_mutex_lock(&mu);
  struct record* r = find_live(st.st_dev, st.st_ino);
  fd_path(fd, path);
  if (r == NULL && path[0] != 0 && under_watch(path)) r = record_for(&st);
  if (r != NULL && r->type == 'f') {
    int rfd = reopen_readonly(fd);
    if (rfd >= 0) {
      const int id = r->id;
      if (snapshot_take(id, rfd, 0, UINT64_MAX, &p->snap) == 0) {
        p->id = id;
        p->type = 'f';
      }
      REAL(close)(rfd);
    }
  } else if (r != NULL && path[0] != 0) {
    p->listing = listing_take(path, 0, &p->id, &p->listing_len);
    p->listing_seq = seq;
    p->type = p->listing != NULL ? 'd' : 0;
    if (p->listing == NULL) p->id = 0;
  }
  if (p->id != 0) p->generation = ++records[p->id - 1].taken;  // ids index the table from 1
  pthread_mutex_unlock(&mu);
}

// After the sync: if it succeeded, its snapshot becomes durable, unless one taken later (by a
// concurrent sync of the same file) already did: each covers the whole file or listing.
static void after_fsync(int rc, struct pending_sync* p) {
  if (p->id == 0) return;
  pthread_mutex_lock(&mu);
  struct record* r = &records[p->id - 1];
  if (rc == 0 && p->generation > r->applied) {
    r->applied = p->generation;
    if (p->type == 'f') snapshot_apply(&p->snap);
    else write_listing_file(p->id, p->listing_seq, p->listing, p->listing_len);
  }
  pthread_mutex_unlock(&mu);
  snapshot_free(&p->snap);
  free(p->listing);
}

static int synced(int fd, int (*call)(int)) {
  struct pending_sync p;
  before_fsync(fd, &p);
  int rc = call(fd);
  int saved = errno;
  after_fsync(rc, &p);
  errno = saved;
  return rc;
}

static void after_sync_write(int fd, ssize_t n, off_t at) {
  if (n <= 0 || !enabled) return;
  struct stat st;
  if (fstat(fd, &st) != 0) return;
  pthread_mutex_lock(&mu);
  struct record* r = find_live(st.st_dev, st.st_ino);
  if (r != NULL && r->type == 'f') {
    int rfd = reopen_readonly(fd);
    if (rfd >= 0) {
      make_durable(r->id, rfd, (uint64_t)at, (uint64_t)at + (uint64_t)n);
      REAL(close)(rfd);
    }
  }
  pthread_mutex_unlock(&mu);
}

static int is_sync_fd(int fd) { return enabled && fd >= 0 && fd < FD_TABLE && atomic_load(&fd_sync[fd]); }

static void sync_everything(void) {
  if (!enabled) return;
  pthread_mutex_lock(&mu);
  make_tree_durable(watch_dir);
  pthread_mutex_unlock(&mu);
}

// ---- mappings ----
static void forget_mapping_range(uintptr_t a, size_t len) {
  const uintptr_t end = a + len;
  for (size_t i = 0; i < map_cap; i++) {
    struct mapping* m = &mappings[i];
    if (m->len == 0 || m->addr >= end || m->addr + m->len <= a) continue;
    const uintptr_t m_end = m->addr + m->len;
    if (m->addr < a && m_end > end) {  // a hole in the middle: keep the left part here
      struct mapping right = {end, m_end - end, m->offset + (off_t)(end - m->addr), dup(m->rfd), m->id};
      m->len = a - m->addr;
      for (size_t k = 0; k < map_cap; k++) {
        if (mappings[k].len == 0) {
          mappings[k] = right;
          atomic_fetch_add(&mapping_count, 1);
          break;
        }
      }
    } else if (m->addr < a) {
      m->len = a - m->addr;
    } else if (m_end > end) {
      m->offset += (off_t)(end - m->addr);
      m->len = m_end - end;
      m->addr = end;
    } else {
      REAL(close)(m->rfd);
      m->len = 0;
      atomic_fetch_sub(&mapping_count, 1);
    }
  }
}

static void remember_mapping(void* p, size_t len, int prot, int flags, int fd, off_t offset) {
  if (!enabled || p == MAP_FAILED || fd < 0 || !(prot & PROT_WRITE)) return;
  const int type = flags & MAP_TYPE;
  if (type != MAP_SHARED && type != MAP_SHARED_VALIDATE) return;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
  char path[PATH_MAX];
  pthread_mutex_lock(&mu);
  struct record* r = find_live(st.st_dev, st.st_ino);
  fd_path(fd, path);
  if (r == NULL && path[0] != 0 && under_watch(path)) r = record_for(&st);
  if (r != NULL) {
    forget_mapping_range((uintptr_t)p, len);  // MAP_FIXED over an older one
    size_t slot = map_cap;
    for (size_t i = 0; i < map_cap; i++) {
      if (mappings[i].len == 0) {
        slot = i;
        break;
      }
    }
    if (slot == map_cap) {
      size_t cap = map_cap ? map_cap * 2 : 64;
      struct mapping* grown = realloc(mappings, cap * sizeof *mappings);
      if (grown != NULL) {
        memset(grown + map_cap, 0, (cap - map_cap) * sizeof *grown);
        mappings = grown;
        map_cap = cap;
      }
    }
    int rfd = slot < map_cap ? reopen_readonly(fd) : -1;
    if (rfd >= 0) {
      mappings[slot] = (struct mapping){(uintptr_t)p, len, offset, rfd, r->id};
      atomic_fetch_add(&mapping_count, 1);
    }
  }
  pthread_mutex_unlock(&mu);
}

// The ranges of watched mappings that an msync of [addr, addr + len) covers, read before it.
struct pending_msync {
  struct snapshot* snaps;
  size_t count;
};

static void before_msync(void* addr, size_t len, int flags, struct pending_msync* p) {
  memset(p, 0, sizeof *p);
  if (!enabled || !(flags & MS_SYNC) || atomic_load(&mapping_count) == 0) return;
  const uintptr_t a = (uintptr_t)addr, end = a + len;
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < map_cap; i++) {
    struct mapping* m = &mappings[i];
    if (m->len == 0 || m->addr >= end || m->addr + m->len <= a) continue;
    struct snapshot* grown = realloc(p->snaps, (p->count + 1) * sizeof *grown);
    if (grown == NULL) break;
    p->snaps = grown;
    const uintptr_t from = a > m->addr ? a : m->addr;
    const uintptr_t to = end < m->addr + m->len ? end : m->addr + m->len;
    if (snapshot_take(m->id, m->rfd, (uint64_t)m->offset + (from - m->addr),
                      (uint64_t)m->offset + (to - m->addr), &p->snaps[p->count]) == 0) {
      p->count++;
    }
  }
  pthread_mutex_unlock(&mu);
}

static void after_msync(int rc, struct pending_msync* p) {
  if (p->count > 0) {
    pthread_mutex_lock(&mu);
    for (size_t k = 0; rc == 0 && k < p->count; k++) snapshot_apply(&p->snaps[k]);
    pthread_mutex_unlock(&mu);
  }
  for (size_t k = 0; k < p->count; k++) snapshot_free(&p->snaps[k]);
  free(p->snaps);
}

// ---- start ----
__attribute__((constructor)) static void start(void) {
  pthread_once(&resolved, resolve_all);
  const char* dir = getenv("SLUICE_POWERLOSS_DIR");
  const char* jr = getenv("SLUICE_POWERLOSS_JOURNAL");
  if (dir == NULL || jr == NULL || dir[0] != '/' || strlen(dir) >= PATH_MAX || strlen(jr) >= sizeof journal) {
    return;
  }
  strcpy(watch_dir, dir);
  watch_len = strlen(watch_dir);
  while (watch_len > 1 && watch_dir[watch_len - 1] == '/') watch_dir[--watch_len] = 0;
  strcpy(journal, jr);
  char p[PATH_MAX];
  journal_path(p, "img");
  REAL(mkdir)(p, 0755);
  journal_path(p, "dir");
  REAL(mkdir)(p, 0755);
  // What is there at the start is durable (the parent rewound it, or created it, and no power
  // cut came since): snapshot it all. The watched directory becomes record 1.
  enabled = 1;
  make_tree_durable(watch_dir);
  unsetenv("SLUICE_POWERLOSS_DIR");
  unsetenv("SLUICE_POWERLOSS_JOURNAL");
  unsetenv("LD_PRELOAD");
}

// ---- the hooks ----
static mode_t mode_arg(int flags, va_list ap) {
  return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

EXPORT int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  int fd = REAL(open)(path, flags, mode);
  int saved = errno;
  after_open(fd, flags);
  errno = saved;
  return fd;
}

EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  int fd = REAL(openat)(dirfd, path, flags, mode);
  int saved = errno;
  after_open(fd, flags);
  errno = saved;
  return fd;
}

// On 64-bit Linux the *64 names are the same calls (off_t is 64 bits).
EXPORT int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return open(path, flags, mode);
}

EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return openat(dirfd, path, flags, mode);
}

// The fortified entry points (-D_FORTIFY_SOURCE builds call these for open with no mode).
EXPORT int __open_2(const char* path, int flags) { return open(path, flags); }
EXPORT int __open64_2(const char* path, int flags) { return open(path, flags); }
EXPORT int __openat_2(int dirfd, const char* path, int flags) { return openat(dirfd, path, flags); }
EXPORT int __openat64_2(int dirfd, const char* path, int flags) { return openat(dirfd, path, flags); }
EXPORT int creat(const char* path, mode_t mode) { return open(path, O_WRONLY | O_CREAT | O_TRUNC, mode); }
EXPORT int creat64(const char* path, mode_t mode) { return creat(path, mode); }

EXPORT int close(int fd) {
  if (fd >= 0 && fd < FD_TABLE) atomic_store(&fd_sync[fd], 0);
  return REAL(close)(fd);
}

// After a write(2) or writev(2) of `n` bytes at the file position: what an O_SYNC/O_DSYNC fd made
// durable, with errno kept for the caller.
static ssize_t after_positioned_write(int fd, ssize_t n) {
  if (n > 0 && is_sync_fd(fd)) {
    int saved = errno;
    after_sync_write(fd, n, lseek(fd, 0, SEEK_CUR) - n);
    errno = saved;
  }
  return n;
}

EXPORT ssize_t write(int fd, const void* buf, size_t len) {
  return after_positioned_write(fd, REAL(write)(fd, buf, len));
}

EXPORT ssize_t writev(int fd, const struct iovec* iov, int count) {
  return after_positioned_write(fd, REAL(writev)(fd, iov, count));
}

EXPORT ssize_t pwrite(int fd, const void* buf, size_t len, off_t at) {
  ssize_t n = REAL(pwrite)(fd, buf, len, at);
  if (n > 0 && is_sync_fd(fd)) {
    int saved = errno;
    after_sync_write(fd, n, at);
    errno = saved;
  }
  return n;
}
EXPORT ssize_t pwrite64(int fd, const void* buf, size_t len, off_t at) { return pwrite(fd, buf, len, at); }

EXPORT ssize_t pwritev(int fd, const struct iovec* iov, int count, off_t at) {
  ssize_t n = REAL(pwritev)(fd, iov, count, at);
  if (n > 0 && is_sync_fd(fd)) {
    int saved = errno;
    after_sync_write(fd, n, at);
    errno = saved;
  }
  return n;
}
EXPORT ssize_t pwritev64(int fd, const struct iovec* iov, int count, off_t at) { return pwritev(fd, iov, count, at); }

EXPORT ssize_t pwritev2(int fd, const struct iovec* iov, int count, off_t at, int flags) {
  ssize_t n = REAL(pwritev2)(fd, iov, count, at, flags);
  if (n > 0 && enabled && ((flags & (RWF_DSYNC | RWF_SYNC)) || is_sync_fd(fd))) {
    int saved = errno;
    after_sync_write(fd, n, at == -1 ? lseek(fd, 0, SEEK_CUR) - n : at);
    errno = saved;
  }
  return n;
}
EXPORT ssize_t pwritev64v2(int fd, const struct iovec* iov, int count, off_t at, int flags) {
  return pwritev2(fd, iov, count, at, flags);
}

EXPORT int fsync(int fd) { return synced(fd, REAL(fsync)); }
EXPORT int fdatasync(int fd) { return synced(fd, REAL(fdatasync)); }

EXPORT int msync(void* addr, size_t len, int flags) {
  struct pending_msync p;
  before_msync(addr, len, flags, &p);
  int rc = REAL(msync)(addr, len, flags);
  int saved = errno;
  after_msync(rc, &p);
  errno = saved;
  return rc;
}

// Not durable under the model (see the top); a plain pass-through, hooked so that no libc alias
// could route around the model unseen.
EXPORT int sync_file_range(int fd, off_t from, off_t len, unsigned int flags) {
  return REAL(sync_file_range)(fd, from, len, flags);
}

EXPORT void sync(void) {
  REAL(sync)();
  sync_everything();
}

EXPORT int syncfs(int fd) {
  int rc = REAL(syncfs)(fd);
  int saved = errno;
  if (rc == 0) sync_everything();
  errno = saved;
  return rc;
}

EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  void* p = REAL(mmap)(addr, len, prot, flags, fd, offset);
  int saved = errno;
  remember_mapping(p, len, prot, flags, fd, offset);
  errno = saved;
  return p;
}
EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  return mmap(addr, len, prot, flags, fd, offset);
}

EXPORT int munmap(void* addr, size_t len) {
  int rc = REAL(munmap)(addr, len);
  if (rc == 0 && atomic_load(&mapping_count) > 0) {
    int saved = errno;
    pthread_mutex_lock(&mu);
    forget_mapping_range((uintptr_t)addr, len);
    pthread_mutex_unlock(&mu);
    errno = saved;
  }
  return rc;
}

EXPORT void* mremap(void* old, size_t old_len, size_t new_len, int flags, ...) {
  void* want = NULL;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    want = va_arg(ap, void*);
    va_end(ap);
  }
  void* p = REAL(mremap)(old, old_len, new_len, flags, want);
  if (p != MAP_FAILED && atomic_load(&mapping_count) > 0) {
    int saved = errno;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < map_cap; i++) {
      if (mappings[i].len != 0 && mappings[i].addr == (uintptr_t)old) {
        mappings[i].addr = (uintptr_t)p;
        mappings[i].len = new_len;
        break;
      }
    }
    pthread_mutex_unlock(&mu);
    errno = saved;
  }
  return p;
}

// Thunks that run the real call for removal() and renaming(), which journal around it.
struct call_args {
  int dirfd, dirfd2, flags;
  const char *path, *path2;
  int (*fn)(const struct call_args*);
};
static int run_call(void* a) { return ((struct call_args*)a)->fn(a); }
static int do_unlink(const struct call_args* a) { return REAL(unlink)(a->path); }
static int do_unlinkat(const struct call_args* a) { return REAL(unlinkat)(a->dirfd, a->path, a->flags); }
static int do_rmdir(const struct call_args* a) { return REAL(rmdir)(a->path); }
static int do_remove(const struct call_args* a) { return REAL(remove)(a->path); }
static int do_rename(const struct call_args* a) { return REAL(rename)(a->path, a->path2); }
static int do_renameat(const struct call_args* a) { return REAL(renameat)(a->dirfd, a->path, a->dirfd2, a->path2); }
static int do_renameat2(const struct call_args* a) {
  return REAL(renameat2)(a->dirfd, a->path, a->dirfd2, a->path2, (unsigned int)a->flags);
}

EXPORT int unlink(const char* path) {
  struct call_args a = {AT_FDCWD, 0, 0, path, NULL, do_unlink};
  return removal(AT_FDCWD, path, run_call, &a);
}
EXPORT int unlinkat(int dirfd, const char* path, int flags) {
  struct call_args a = {dirfd, 0, flags, path, NULL, do_unlinkat};
  return removal(dirfd, path, run_call, &a);
}
EXPORT int rmdir(const char* path) {
  struct call_args a = {AT_FDCWD, 0, 0, path, NULL, do_rmdir};
  return removal(AT_FDCWD, path, run_call, &a);
}
EXPORT int remove(const char* path) {
  struct call_args a = {AT_FDCWD, 0, 0, path, NULL, do_remove};
  return removal(AT_FDCWD, path, run_call, &a);
}
EXPORT int rename(const char* from, const char* to) {
  struct call_args a = {AT_FDCWD, AT_FDCWD, 0, from, to, do_rename};
  return renaming(AT_FDCWD, from, AT_FDCWD, to, 0, run_call, &a);
}
EXPORT int renameat(int fromfd, const char* from, int tofd, const char* to) {
  struct call_args a = {fromfd, tofd, 0, from, to, do_renameat};
  return renaming(fromfd, from, tofd, to, 0, run_call, &a);
}
EXPORT int renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned int flags) {
  struct call_args a = {fromfd, tofd, (int)flags, from, to, do_renameat2};
  return renaming(fromfd, from, tofd, to, flags, run_call, &a);
}

EXPORT int mkdir(const char* path, mode_t mode) {
  int rc = REAL(mkdir)(path, mode);
  int saved = errno;
  after_mkdir(rc, AT_FDCWD, path);
  errno = saved;
  return rc;
}
EXPORT int mkdirat(int dirfd, const char* path, mode_t mode) {
  int rc = REAL(mkdirat)(dirfd, path, mode);
  int saved = errno;
  after_mkdir(rc, dirfd, path);
  errno = saved;
  return rc;
}
