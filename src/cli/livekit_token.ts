import { AccessToken } from 'livekit-server-sdk';
import { JoinError } from './join_error.js';

/**
 * Lifetime of a minted token (s). It only has to be valid when joining (and when the SDK reconnects, which uses the
 * token the server refreshes during the session).
 */
export const JOIN_TOKEN_TTL_SECONDS = 3600;

/** What {@link mintJoinToken} needs: the project's API key pair, and who joins which room. */
export interface JoinTokenRequest {
  /** LiveKit API key (`LIVEKIT_API_KEY`). */
  apiKey: string;
  /** LiveKit API secret (`LIVEKIT_API_SECRET`); signs the token, never printed. */
  apiSecret: string;
  /** Room to join. */
  room: string;
  /** Participant identity in the room. */
  identity: string;
  /** Lifetime of the token (s); default {@link JOIN_TOKEN_TTL_SECONDS}. */
  ttlSeconds?: number;
}

/**
 * Mints an access token that lets `identity` join `room`, publish (the microphone) and subscribe (the other
 * participants' audio), valid for `ttlSeconds`.
 */
export async function mintJoinToken(request: JoinTokenRequest): Promise<string> {
  const token = new AccessToken(request.apiKey, request.apiSecret, {
    identity: request.identity,
    ttl: request.ttlSeconds ?? JOIN_TOKEN_TTL_SECONDS,
  });
  token.addGrant({ roomJoin: true, room: request.room, canPublish: true, canSubscribe: true });
  return token.toJwt();
}

/**
 * Checks, without the secret, that `token` is a JWT whose payload is readable and that it has not expired at
 * `nowMs` (ms since the epoch), so that a bad token fails at once with a clear message rather than as a server
 * refusal. Its signature and grants are the server's to check.
 * @throws JoinError naming what is wrong (never quoting the token).
 */
export function checkJoinToken(token: string, nowMs: number = Date.now()): void {
  const parts = token.split('.');
  let payload: unknown;
  try {
    if (parts.length !== 3) throw new Error(`${parts.length} parts instead of 3`);
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch (error) {
    throw new JoinError('the token is malformed: it is not a JWT (header.payload.signature)', {
      cause: error,
    });
  }
  if (typeof payload !== 'object' || payload === null) {
    throw new JoinError('the token is malformed: its payload is not a JSON object');
  }
  const { exp } = payload as { exp?: unknown };
  if (exp !== undefined && typeof exp !== 'number') {
    throw new JoinError('the token is malformed: its expiry (exp) is not a number');
  }
  if (typeof exp === 'number' && exp * 1000 <= nowMs) {
    throw new JoinError(`the token expired at ${new Date(exp * 1000).toISOString()}`);
  }
}
