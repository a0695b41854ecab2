/**
 * @internal
 * Holds back events raised in the middle of a unit of work (a block of device audio, a mix) until the work is done
 * and its state consistent: a listener may then close the object, or add and remove sources, without breaking the
 * rest of the work.
 */
export class DeferredEvents {
  private depth = 0;
  private readonly held: (() => void)[] = [];

  /** Runs `work`; events raised through {@link emit} meanwhile fire once it has returned or thrown. */
  run<R>(work: () => R): R {
    this.depth++;
    try {
      return work();
    } finally {
      this.depth--;
      if (this.depth === 0) for (const emit of this.held.splice(0)) emit();
    }
  }

  /** Emits now outside {@link run}, or when the running work is done. */
  emit(emit: () => void): void {
    if (this.depth > 0) this.held.push(emit);
    else emit();
  }
}
