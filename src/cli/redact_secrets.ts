const REDACTED = '[redacted]';

// The value of any URL query parameter (`?access_token=...`, `&join_request=...`): the SDK's error messages echo
// the URL it connected to, and a join request can carry the token. The value stops at punctuation that follows a
// URL in a sentence (and that neither a JWT nor base64 holds), and `[redacted]` is not redacted again.
const QUERY_VALUE = /([?&][^=\s?&#"'<>]+=)[^\s&#"'<>[\]():,;]+/g;
// An Authorization header's credentials.
const BEARER = /(Bearer\s+)\S+/gi;
// Anything shaped like a JWT (header.payload.signature, the header base64url JSON), such as a refreshed token.
const JWT = /eyJ[\w-]*\.[\w-]+\.[\w-]*/g;

/**
 * Returns `text` with every one of `secrets` (an API secret, an access token), every URL query value, bearer
 * credentials and anything shaped like a JWT replaced by `[redacted]`, and line breaks folded to spaces, so it can
 * be printed on one line. Empty secrets are ignored.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  const literal = secrets
    .filter((s): s is string => s !== undefined && s.length > 0)
    .sort((a, b) => b.length - a.length);
  for (const secret of literal) out = out.split(secret).join(REDACTED);
  return out
    .replace(QUERY_VALUE, `$1${REDACTED}`)
    .replace(BEARER, `$1${REDACTED}`)
    .replace(JWT, REDACTED)
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .trim();
}
