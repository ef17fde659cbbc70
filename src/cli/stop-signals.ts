/**
 * SIGTERM/SIGINT, caught from the moment the proxy starts starting: a signal that arrives while the
 * listeners open (a process manager that gives up early, a test that saw the first port) still ends in
 * the ordinary drain and exit 0, once start-up is done, instead of the default of dying on the spot.
 */
type Stop = (signal: NodeJS.Signals) => void;

export class StopSignals {
  #early?: NodeJS.Signals;
  #stop?: Stop;

  constructor() {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => this.#received(signal));
  }

  #received(signal: NodeJS.Signals): void {
    if (this.#stop) this.#stop(signal);
    else this.#early ??= signal;
  }

  /** A signal came before anyone could act on it. */
  get early(): NodeJS.Signals | undefined { return this.#early; }

  /** From now on a signal calls `stop`; one that came already calls it at once. */
  onStop(stop: Stop): void {
    this.#stop = stop;
    if (this.#early) stop(this.#early);
  }
}
