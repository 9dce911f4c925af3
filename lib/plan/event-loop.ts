/**
 * The event loop under load, for `sluice plan` (next-stage.md D4, measurement 6): delay from
 * perf_hooks.monitorEventLoopDelay (a timer every 10 ms; how late it fires: the histogram holds the
 * interval between fires, so the resolution is subtracted) and utilisation from
 * performance.eventLoopUtilization() (share of the window the loop was busy, not idle in epoll).
 * Both cover this process's main thread only: the load generator, the broker and the consumers
 * share it, while the native writer thread's disk work does not show.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

export interface EventLoopFigures { delayP50Ms: number; delayP99Ms: number; delayMaxMs: number; utilization: number }


/** Starts watching; stop() returns the figures over the window since the start. */
export function watchEventLoop(resolutionMs = 10): { stop: () => EventLoopFigures } {
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  const start = performance.eventLoopUtilization();
  return {
    stop: () => {
      const elu = performance.eventLoopUtilization(start);
      delay.disable();
      const has = delay.count > 0;
      const ms = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, Number((ns / 1e6 - resolutionMs).toFixed(3))) : 0);
      return { delayP50Ms: has ? ms(delay.percentile(50)) : 0, delayP99Ms: has ? ms(delay.percentile(99)) : 0, delayMaxMs: has ? ms(delay.max) : 0, utilization: Number(elu.utilization.toFixed(4)) };
    },
  };
}
