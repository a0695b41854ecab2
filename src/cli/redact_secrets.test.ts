import { describe, expect, it } from 'vitest';
import { redactSecrets } from './redact_secrets.js';

describe('redactSecrets', () => {
  it('replaces every occurrence of each secret, longest first', () => {
    expect(redactSecrets('key s3cret and s3cret-long, s3cret', ['s3cret', 's3cret-long'])).toBe(
      'key [redacted] and [redacted], [redacted]',
    );
  });

  it('redacts URL query values, keeping the URL and parameter names', () => {
    const message =
      'signal failure: 401 for wss://lk.example.com/rtc?access_token=abc.def.ghi&auto_subscribe=1 (retry)';
    expect(redactSecrets(message, [])).toBe(
      'signal failure: 401 for wss://lk.example.com/rtc?access_token=[redacted]&auto_subscribe=[redacted] (retry)',
    );
    expect(redactSecrets('/rtc/v1?join_request=CAES_Asfiw%3D%3D', [])).toBe(
      '/rtc/v1?join_request=[redacted]',
    );
  });

  it('keeps the punctuation after a URL, and redacting twice changes nothing more', () => {
    const once = redactSecrets(
      'could not join ws://h/?access_token=abc.def: 401 (for /rtc?t=x)',
      [],
    );
    expect(once).toBe(
      'could not join ws://h/?access_token=[redacted]: 401 (for /rtc?t=[redacted])',
    );
    expect(redactSecrets(once, [])).toBe(once);
  });

  it('redacts bearer credentials and JWT-shaped strings it was not told of', () => {
    expect(redactSecrets('authorization: Bearer aaa.bbb.ccc', [])).toBe(
      'authorization: Bearer [redacted]',
    );
    expect(redactSecrets('token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig-_x refused', [])).toBe(
      'token [redacted] refused',
    );
  });

  it('folds line breaks so the message stays on one line; ignores empty secrets', () => {
    expect(redactSecrets('first\n  second\r\nthird\n', ['', undefined])).toBe('first second third');
  });
});
