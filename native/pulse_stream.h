// A sound-server stream (input, output or full duplex) on libpulse's asynchronous API, with the same JavaScript
// face as the PortAudio AudioStream (audio_stream.h): the same methods, rings of int16 with BlockInfo, counters,
// stream clock, wake-up, close and MakeInert. It talks to the server directly (its own context and threaded main
// loop) instead of through ALSA's pulse plugin and PortAudio, so it can ask for exact buffer sizes: for playback
// tlength (what the server keeps queued), minreq (how much it asks for at a time) and prebuf (what it waits for
// before it plays), for capture fragsize (how much it delivers at a time).
//
// new PulseStream({ inputServerDevice?, inputChannels, outputServerDevice?, outputChannels, sampleRate,
//                   framesPerBuffer, inputLatency?, outputLatency?, ringFrames, captureRendered, realtimeScheduling,
//                   adjustLatency, openTimeoutMs, onWake, owner })
//   Device names are the server's source / sink names; omitted (or undefined): the server's default. Latencies in
//   seconds. framesPerBuffer (0: 10 ms) is the block: minreq and fragsize. Playback keeps
//   tlength = max(2 blocks, outputLatency) queued and starts once one block is there; capture is delivered in
//   blocks of max(1 block, inputLatency). adjustLatency sets PA_STREAM_ADJUST_LATENCY (the server then sizes the
//   device's own buffer so that tlength / fragsize are the whole latency, instead of adding to it).
//   Both streams of a duplex pair share one context and one main-loop thread, and wake JavaScript once per block.
//
// Times (BlockInfo, time()) are seconds on the clock PortAudio's ALSA host uses (the wall clock): the monotonic
// clock plus the wall clock's offset from it taken at open, so that streams of both kinds compare.
//
// Threads: the JavaScript thread that created a stream calls its methods. libpulse's main-loop thread (one per
// stream) runs every libpulse callback: it fills playback from the output ring, pushes capture and what was played
// into their rings, counts, publishes the clock and wakes JavaScript with uv_async_send; it never locks anything
// JavaScript holds for more than that thread's own short sections, allocates, or calls into JavaScript.
// JavaScript takes the main loop's lock only for short sections that never wait on the server (start, stop,
// info), with one exception: the constructor waits for the server to accept the context and streams (at most
// openTimeoutMs, the lock released while waiting), as PortAudio's open through the ALSA plugin does.
// close() never waits on the server, stalled or not: it stops the main-loop thread (which never blocks on the
// server: libpulse's socket is non-blocking), then drops the connection.
#pragma once

#include <napi.h>

// The PulseStream class, or, in a build without libpulse's headers, a constructor that always throws.
Napi::Function DefinePulseStream(Napi::Env env);
