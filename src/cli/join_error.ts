/**
 * `lk-audio join` could not join or stay in the room: the server was unreachable, refused the token, or the token
 * is malformed or expired. The message is one line with every secret redacted; the CLI exits with status 1.
 */
export class JoinError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'JoinError';
  }
}
