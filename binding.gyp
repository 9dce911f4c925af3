{
  "targets": [
    {
      "target_name": "sluice",
      "sources": [
        "native/core/crash_point.cc",
        "native/core/crc32c.cc",
        "native/core/dir_lock.cc",
        "native/core/fault.cc",
        "native/core/file.cc",
        "native/core/flusher.cc",
        "native/core/write_buffers.cc",
        "native/core/log.cc",
        "native/core/log_append_raw.cc",
        "native/core/log_meta.cc",
        "native/core/log_read.cc",
        "native/core/log_recovery.cc",
        "native/core/mapping.cc",
        "native/core/offset_index.cc",
        "native/core/record_batch.cc",
        "native/core/record_slots.cc",
        "native/core/recovery_checkpoint.cc",
        "native/core/segment.cc",
        "native/core/segment_preparer.cc",
        "native/core/send_file.cc",
        "native/core/status.cc",
        "native/core/time_index.cc",
        "native/core/txn_index.cc",
        "native/binding/addon.cc",
        "native/binding/dir_lock_binding.cc",
        "native/binding/errors.cc",
        "native/binding/log_binding.cc",
        "native/binding/send_file_binding.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/include"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "cflags": ["-O3"]
    }
  ]
}
