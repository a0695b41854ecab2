#!/usr/bin/env node
// lk-audio's entry point. @livekit/rtc-node's logger writes debug lines to stdout unless NODE_ENV is
// "production" when the SDK loads; they would mix into the command's output (and its --json). So the SDK is loaded
// first with NODE_ENV set so, then the variable is put back as it was and the command line runs.
const nodeEnv = process.env.NODE_ENV;
process.env.NODE_ENV = 'production';
await import('@livekit/rtc-node');
if (nodeEnv === undefined) delete process.env.NODE_ENV;
else process.env.NODE_ENV = nodeEnv;
await import('../dist/cli/main.js');
