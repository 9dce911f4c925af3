// The system-call layer: File (open, positional I/O, allocate, sync, close), the directory helpers,
// Status::io's errno mapping, Mapping (shared, read-only and copy-on-write maps, ranged sync) and
// fault injection, which every failure path of the engine is tested through.
#include "sluice/file.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "sluice/fault.h"
#include "sluice/mapping.h"
#include "test.h"

using namespace sluice;

TEST(open_reports_errno_syscall_and_path) {
  sluice_test::TempDir dir;
  auto f = File::open(dir.file("missing"), O_RDONLY);
  CHECK_CODE(f, Code::kIo);
  CHECK_EQ(f.status().errno_value(), ENOENT);
  CHECK_EQ(std::string(f.status().syscall()), std::string("open"));
  CHECK_EQ(f.status().path(), dir.file("missing"));
  CHECK(f.status().message().find(dir.file("missing")) != std::string::npos);
}

TEST(positional_io_round_trips) {
  sluice_test::TempDir dir;
  auto f = File::open(dir.file("a"), O_RDWR | O_CREAT);
  REQUIRE_OK(f);
  File& file = f.value();
  CHECK(file.is_open());
  const char text[] = "hello, segment";
  REQUIRE_OK(file.write_at(text, sizeof text, 100));
  auto size = file.size();
  REQUIRE_OK(size);
  CHECK_EQ(size.value(), 100 + sizeof text);
  char back[sizeof text] = {};
  REQUIRE_OK(file.read_at(back, sizeof back, 100));
  CHECK(std::memcmp(back, text, sizeof text) == 0);
  char hole[100];
  REQUIRE_OK(file.read_at(hole, sizeof hole, 0));
  CHECK(std::all_of(hole, hole + 100, [](char c) { return c == 0; }));
  // Reading past the end is an error, not a short read.
  Status past = file.read_at(back, sizeof back, 110);
  CHECK_CODE(past, Code::kIo);
  CHECK_EQ(past.errno_value(), EIO);
  REQUIRE_OK(file.truncate(10));
  CHECK_EQ(file.size().value(), 10u);
  REQUIRE_OK(file.datasync());
  REQUIRE_OK(file.close());
  CHECK(!file.is_open());
  CHECK_OK(file.close());  // closing twice is harmless
}

TEST(io_on_a_read_only_descriptor_fails_cleanly) {
  sluice_test::TempDir dir;
  { auto w = File::open(dir.file("ro"), O_WRONLY | O_CREAT); REQUIRE_OK(w); }
  auto f = File::open(dir.file("ro"), O_RDONLY);
  REQUIRE_OK(f);
  Status s = f.value().write_at("x", 1, 0);
  CHECK_CODE(s, Code::kIo);
  CHECK_EQ(s.errno_value(), EBADF);
  CHECK_CODE(f.value().truncate(0), Code::kIo);
}

TEST(files_move_and_close_once) {
  sluice_test::TempDir dir;
  auto f = File::open(dir.file("m"), O_RDWR | O_CREAT);
  REQUIRE_OK(f);
  int fd = f.value().fd();
  File moved(std::move(f.value()));
  CHECK(!f.value().is_open());
  CHECK_EQ(moved.fd(), fd);
  CHECK_EQ(moved.path(), dir.file("m"));
  File assigned;
  assigned = std::move(moved);
  CHECK_EQ(assigned.fd(), fd);
  CHECK(!moved.is_open());
  assigned.set_path(dir.file("renamed"));
  CHECK_EQ(assigned.path(), dir.file("renamed"));
}

TEST(allocate_reserves_the_size) {
  sluice_test::TempDir dir;
  auto f = File::open(dir.file("alloc"), O_RDWR | O_CREAT);
  REQUIRE_OK(f);
  REQUIRE_OK(f.value().allocate(1 << 20));
  CHECK_EQ(f.value().size().value(), 1u << 20);
  struct stat st;
  REQUIRE(::fstat(f.value().fd(), &st) == 0);
  CHECK_GE(static_cast<uint64_t>(st.st_blocks) * 512, 1u << 20);
}

TEST(status_io_maps_full_disks_to_no_space) {
  CHECK_EQ(Status::io(ENOSPC, "fallocate", "/p").code(), Code::kNoSpace);
  CHECK_EQ(Status::io(EDQUOT, "write", "/p").code(), Code::kNoSpace);
  CHECK_EQ(Status::io(EIO, "fsync", "/p").code(), Code::kIo);
  CHECK_EQ(Status::io(EIO, "fsync", "/p").errno_value(), EIO);
  CHECK(Status::ok().is_ok());
  CHECK_EQ(Status::corrupt("bad", "/p", 12).position(), 12);
  // Every code has its own name.
  std::vector<std::string> names;
  for (int c = 0; c <= static_cast<int>(Code::kInvalidArgument); c++) {
    std::string n = code_name(static_cast<Code>(c));
    CHECK_NE(n, std::string("UNKNOWN"));
    CHECK(std::find(names.begin(), names.end(), n) == names.end());
    names.push_back(n);
  }
}

TEST(fault_injection_fails_the_next_calls) {
  sluice_test::TempDir dir;
  auto f = File::open(dir.file("faulty"), O_RDWR | O_CREAT);
  REQUIRE_OK(f);
  fault::arm(fault::kAllocate, ENOSPC, 2);
  Status a = f.value().allocate(4096);
  CHECK_CODE(a, Code::kNoSpace);
  CHECK_EQ(std::string(a.syscall()), std::string("fallocate"));
  CHECK_CODE(f.value().allocate(4096), Code::kNoSpace);
  CHECK_OK(f.value().allocate(4096));  // two were armed, both consumed
  fault::arm(fault::kSync, EIO, 1);
  Status s = f.value().datasync();
  CHECK_CODE(s, Code::kIo);
  CHECK_EQ(s.errno_value(), EIO);
  CHECK_OK(f.value().datasync());
  fault::arm(fault::kSync, EIO, 5);
  fault::arm(fault::kSync, EIO, 0);  // disarms
  CHECK_EQ(fault::take(fault::kSync, dir.path()), 0);
  CHECK_OK(fsync_dir(dir.path()));
  fault::arm(fault::kSync, EIO, 1);
  CHECK_CODE(fsync_dir(dir.path()), Code::kIo);
  fault::arm(fault::kSync, EIO, 1);
  CHECK_CODE(write_file_atomic(dir.path(), "x", {1, 2, 3}), Code::kIo);
}

TEST(fault_injection_targets_paths_containing_a_string) {
  sluice_test::TempDir dir;
  auto sturdy = File::open(dir.file("sturdy"), O_RDWR | O_CREAT);
  auto fragile = File::open(dir.file("fragile"), O_RDWR | O_CREAT);
  REQUIRE_OK(sturdy);
  REQUIRE_OK(fragile);
  fault::arm(fault::kSync, EIO, 1, "fragile");
  CHECK_OK(sturdy.value().datasync());  // another path: not consumed
  CHECK_OK(fsync_dir(dir.path()));
  CHECK_CODE(fragile.value().datasync(), Code::kIo);
  CHECK_OK(fragile.value().datasync());  // the one armed was consumed
  fault::arm(fault::kAllocate, ENOSPC, 3, "fragile");
  CHECK_OK(sturdy.value().allocate(4096));
  CHECK_CODE(fragile.value().allocate(4096), Code::kNoSpace);
  fault::arm(fault::kAllocate, ENOSPC, 0);  // disarms, whatever the target
  CHECK_OK(fragile.value().allocate(4096));
}

TEST(write_file_atomic_replaces_whole_files) {
  sluice_test::TempDir dir;
  REQUIRE_OK(write_file_atomic(dir.path(), "meta", {1, 2, 3}));
  REQUIRE_OK(write_file_atomic(dir.path(), "meta", {4, 5}));
  auto back = read_file(dir.file("meta"), 100);
  REQUIRE_OK(back);
  CHECK_EQ(back.value(), (std::vector<uint8_t>{4, 5}));
  auto names = list_dir(dir.path());
  REQUIRE_OK(names);
  CHECK_EQ(names.value(), std::vector<std::string>{"meta"});  // no .tmp left behind
  CHECK_CODE(write_file_atomic(dir.file("no/such/dir"), "meta", {1}), Code::kIo);
}

TEST(read_file_is_bounded) {
  sluice_test::TempDir dir;
  REQUIRE_OK(write_file_atomic(dir.path(), "f", std::vector<uint8_t>(100, 7)));
  CHECK_OK(read_file(dir.file("f"), 100));
  auto big = read_file(dir.file("f"), 99);
  CHECK_CODE(big, Code::kCorrupt);
  CHECK_EQ(big.status().path(), dir.file("f"));
  auto missing = read_file(dir.file("nope"), 100);
  CHECK_CODE(missing, Code::kIo);
  CHECK_EQ(missing.status().errno_value(), ENOENT);
  auto empty = File::open(dir.file("empty"), O_WRONLY | O_CREAT);
  REQUIRE_OK(empty);
  auto e = read_file(dir.file("empty"), 100);
  REQUIRE_OK(e);
  CHECK(e.value().empty());
}

TEST(directory_helpers) {
  sluice_test::TempDir dir;
  std::string nested = dir.file("a/b/c");
  REQUIRE_OK(make_dirs(nested));
  CHECK_OK(make_dirs(nested));  // exists already
  CHECK_OK(make_dirs(nested + "/"));
  REQUIRE_OK(write_file_atomic(nested, "f", {1}));
  Status not_dir = make_dirs(nested + "/f");
  CHECK_CODE(not_dir, Code::kIo);
  CHECK_EQ(not_dir.errno_value(), ENOTDIR);
  CHECK_CODE(make_dirs(nested + "/f/g"), Code::kIo);
  auto names = list_dir(dir.path());
  REQUIRE_OK(names);
  CHECK_EQ(names.value(), std::vector<std::string>{"a"});  // no "." or ".."
  CHECK_CODE(list_dir(dir.file("none")), Code::kIo);
  CHECK_OK(remove_file(nested + "/f"));
  CHECK_OK(remove_file(nested + "/f"));  // a missing file is not an error
  CHECK_CODE(remove_file(nested), Code::kIo);  // a directory is
  CHECK_CODE(fsync_dir(dir.file("none")), Code::kIo);
  CHECK_EQ(join_path("/x", "y"), std::string("/x/y"));
  CHECK_EQ(join_path("/x/", "y"), std::string("/x/y"));
  CHECK_EQ(join_path("", "y"), std::string("/y"));
}

TEST(shared_mappings_write_through_to_the_file) {
  sluice_test::TempDir dir;
  auto f = File::open(dir.file("m"), O_RDWR | O_CREAT);
  REQUIRE_OK(f);
  REQUIRE_OK(f.value().allocate(64 * 1024));
  auto m = Mapping::map(f.value(), 64 * 1024, Mapping::Access::kReadWrite);
  REQUIRE_OK(m);
  CHECK_EQ(m.value()->size(), 64u * 1024);
  std::memcpy(m.value()->data() + 5000, "mapped", 6);
  REQUIRE_OK(m.value()->sync(5000, 5006, f.value().path()));
  CHECK_OK(m.value()->sync(0, 0, f.value().path()));  // empty range
  char back[6];
  REQUIRE_OK(f.value().read_at(back, 6, 5000));
  CHECK(std::memcmp(back, "mapped", 6) == 0);
  m.value()->populate(0, 1 << 30);  // advisory and clamped to the mapping
  m.value()->populate(70000, 80000);
  // A read-only view sees the same bytes.
  auto ro = Mapping::map(f.value(), 64 * 1024, Mapping::Access::kReadOnly);
  REQUIRE_OK(ro);
  CHECK(std::memcmp(ro.value()->data() + 5000, "mapped", 6) == 0);
  // Copy-on-write: the writer's later changes are seen until the view writes that page itself.
  auto cow = Mapping::map(f.value(), 64 * 1024, Mapping::Access::kCopyOnWrite);
  REQUIRE_OK(cow);
  cow.value()->data()[5000] = 'M';
  CHECK_EQ(m.value()->data()[5000], 'm');
  fault::arm(fault::kSync, EIO, 1);
  Status s = m.value()->sync(0, 10, f.value().path());
  CHECK_CODE(s, Code::kIo);
  CHECK_EQ(std::string(s.syscall()), std::string("msync"));
}

TEST(mapping_misuse_is_a_programmer_error) {
  sluice_test::TempDir dir;
  auto f = File::open(dir.file("m"), O_RDWR | O_CREAT);
  REQUIRE_OK(f);
  REQUIRE_OK(f.value().allocate(4096));
  CHECK_ABORTS((void)Mapping::map(f.value(), 0, Mapping::Access::kReadOnly), "empty");
  auto m = Mapping::map(f.value(), 4096, Mapping::Access::kReadWrite);
  REQUIRE_OK(m);
  CHECK_ABORTS((void)m.value()->sync(0, 4097, "p"), "sync range outside the mapping");
  CHECK_ABORTS((void)m.value()->sync(10, 5, "p"), "sync range outside the mapping");
  // mmap itself failing (a closed descriptor) is an I/O error.
  File closed;
  CHECK_CODE(Mapping::map(closed, 4096, Mapping::Access::kReadOnly), Code::kIo);
}

TEST(directory_entry_tracking) {
  sluice_test::TempDir dir;
  fault::enable_tracking();
  CHECK(fault::tracking());
  { auto f = File::open(dir.file("new"), O_RDWR | O_CREAT); REQUIRE_OK(f); }
  auto pending = fault::unsynced_entries();
  CHECK(std::find(pending.begin(), pending.end(), dir.file("new")) != pending.end());
  REQUIRE_OK(fsync_dir(dir.path() + "/"));
  pending = fault::unsynced_entries();
  CHECK(std::find(pending.begin(), pending.end(), dir.file("new")) == pending.end());
  // Opening an existing file without O_CREAT notes nothing.
  { auto f = File::open(dir.file("new"), O_RDWR); REQUIRE_OK(f); }
  CHECK(fault::unsynced_entries().empty());
  // Nor does O_CREAT on a file that exists: its entry is already durable (a power loss must not
  // take away a file such as a .txnindex that an open appends to).
  { auto f = File::open(dir.file("new"), O_RDWR | O_CREAT); REQUIRE_OK(f); }
  CHECK(fault::unsynced_entries().empty());
}

TEST_MAIN()
