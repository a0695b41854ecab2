/**
 * Which addon the suite runs against: the file named by LK_AUDIO_BINARY when set (e.g. the prebuilt one from
 * `npm run package`: artifacts/build/<platform>/build/Release/lk_audio.node), else the local build. Printed, so a
 * run's log says which it was.
 */
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { nativeAddonOrigin, nativeBinding } from '../src/backend/native_binding.js';

it('loads the addon named by LK_AUDIO_BINARY, else the local build', () => {
  const origin = nativeAddonOrigin();
  console.log(
    `addon under test: ${origin.path} (${origin.source}); ${nativeBinding().portAudioVersion}`,
  );
  const explicit = process.env.LK_AUDIO_BINARY;
  if (explicit) {
    expect(origin).toEqual({ path: resolve(explicit), source: 'LK_AUDIO_BINARY' });
  } else {
    expect(origin.source).toBe('local build');
    expect(origin.path).toMatch(/build[/\\]Release[/\\]lk_audio\.node$/);
  }
});
