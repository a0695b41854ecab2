import { TokenVerifier } from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import { JoinError } from './join_error.js';
import { JOIN_TOKEN_TTL_SECONDS, checkJoinToken, mintJoinToken } from './livekit_token.js';

const apiKey = 'APIk3yF0rTests';
const apiSecret = 'x'.repeat(12) + 'secretForTheTokenTests0123456789';

/** A JWT-shaped string with this payload (unsigned: checkJoinToken does not check signatures). */
function jwtWith(payload: unknown): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(payload)}.c2lnbmF0dXJl`;
}

describe('mintJoinToken', () => {
  it('mints a token the server SDK verifies: identity, room, join, publish, subscribe, expiry', async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await mintJoinToken({ apiKey, apiSecret, room: 'standup', identity: 'ana' });
    const claims = await new TokenVerifier(apiKey, apiSecret).verify(token);
    expect(claims.sub).toBe('ana');
    expect(claims.iss).toBe(apiKey);
    expect(claims.video).toMatchObject({
      roomJoin: true,
      room: 'standup',
      canPublish: true,
      canSubscribe: true,
    });
    expect(claims.exp! - claims.nbf!).toBe(JOIN_TOKEN_TTL_SECONDS);
    expect(claims.exp!).toBeGreaterThanOrEqual(before + JOIN_TOKEN_TTL_SECONDS);
    expect(claims.exp!).toBeLessThanOrEqual(before + JOIN_TOKEN_TTL_SECONDS + 5);
    expect(token).not.toContain(apiSecret);
  });

  it('uses the lifetime asked for, and is refused under another secret', async () => {
    const token = await mintJoinToken({
      apiKey,
      apiSecret,
      room: 'r',
      identity: 'i',
      ttlSeconds: 60,
    });
    const claims = await new TokenVerifier(apiKey, apiSecret).verify(token);
    expect(claims.exp! - claims.nbf!).toBe(60);
    await expect(
      new TokenVerifier(apiKey, 'another-secret-another-secret-00').verify(token),
    ).rejects.toThrow();
  });
});

describe('checkJoinToken', () => {
  it('accepts a fresh minted token and one without expiry', async () => {
    const token = await mintJoinToken({ apiKey, apiSecret, room: 'r', identity: 'i' });
    expect(() => checkJoinToken(token)).not.toThrow();
    expect(() => checkJoinToken(jwtWith({ sub: 'i' }))).not.toThrow();
  });

  it('refuses an expired token, naming when it expired', async () => {
    const token = await mintJoinToken({ apiKey, apiSecret, room: 'r', identity: 'i' });
    const later = Date.now() + (JOIN_TOKEN_TTL_SECONDS + 1) * 1000;
    expect(() => checkJoinToken(token, later)).toThrow(JoinError);
    const exp = new Date(1_600_000_000 * 1000).toISOString();
    expect(() => checkJoinToken(jwtWith({ exp: 1_600_000_000 }))).toThrow(
      `the token expired at ${exp}`,
    );
  });

  it('refuses malformed tokens without quoting them', () => {
    for (const bad of [
      'not-a-token',
      'a.b',
      'a.b.c.d',
      'x.!!!.y',
      jwtWith(7),
      jwtWith({ exp: 'soon' }),
    ]) {
      let error: unknown;
      try {
        checkJoinToken(bad);
      } catch (e) {
        error = e;
      }
      expect(error, bad).toBeInstanceOf(JoinError);
      expect((error as Error).message).toMatch(/^the token is malformed/);
      expect((error as Error).message).not.toContain(bad);
    }
  });
});
