/**
 * The confirm of a group-state change (an ack, a commit): a thenable that settles once the record
 * holding the change is as durable as the group log's sync policy makes it (`durable: true` under
 * 'always'; under 'interval' and 'none' it settles when the record is sealed and says whether it is
 * durable yet). Every change made in one tick shares one StateConfirm, and no Promise is made
 * unless someone awaits it, so an ack that nobody awaits costs no allocation.
 */
export interface StateDurability {
  durable: boolean;
}

export class StateConfirm implements PromiseLike<StateDurability> {
  #result: StateDurability | undefined;
  #error: Error | undefined;
  #promise: Promise<StateDurability> | undefined;
  #resolve: ((v: StateDurability) => void) | undefined;
  #reject: ((e: Error) => void) | undefined;

  /** Whether it has settled. */
  get settled(): boolean {
    return this.#result !== undefined || this.#error !== undefined;
  }

  then<A = StateDurability, B = never>(
    onFulfilled?: ((value: StateDurability) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#promiseOf().then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<StateDurability | B> {
    return this.#promiseOf().catch(onRejected);
  }

  settle(err: Error | null, durable: boolean): void {
    if (this.settled) return;
    if (err !== null) {
      this.#error = err;
      this.#reject?.(err);
    } else {
      this.#result = { durable };
      this.#resolve?.(this.#result);
    }
  }

  #promiseOf(): Promise<StateDurability> {
    if (this.#promise === undefined) {
      if (this.#result !== undefined) this.#promise = Promise.resolve(this.#result);
      else if (this.#error !== undefined) this.#promise = Promise.reject(this.#error);
      else {
        this.#promise = new Promise((resolve, reject) => {
          this.#resolve = resolve;
          this.#reject = reject;
        });
      }
    }
    return this.#promise;
  }
}
