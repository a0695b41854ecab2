{
  "targets": [
    {
      "target_name": "lk_audio",
      "sources": [
        "native/binding.cc",
        "native/audio_stream.cc",
        "native/pulse_devices.cc",
        "native/sound_server_pcm.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "conditions": [
        ["OS=='linux'", {
          "libraries": ["<!@(pkg-config --libs portaudio-2.0)"],
          "cflags_cc": ["<!@(pkg-config --cflags portaudio-2.0)"],
          "conditions": [
            ["'<!(pkg-config --exists libpulse && echo yes || echo no)'=='yes'", {
              "defines": ["HAVE_LIBPULSE"],
              "libraries": ["<!@(pkg-config --libs libpulse)"]
            }]
          ]
        }],
        ["OS=='mac'", {
          "include_dirs": ["<!@(pkg-config --variable=includedir portaudio-2.0)"],
          "libraries": ["<!@(pkg-config --libs portaudio-2.0)"],
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }]
      ]
    }
  ]
}
