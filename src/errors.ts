/**
 * Base class of every error this package throws, so callers can catch them all with one `instanceof`.
 */
export class MediaDevicesError extends Error {
  /** @internal */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
