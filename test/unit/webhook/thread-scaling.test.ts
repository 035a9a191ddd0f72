import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectionsToShed, DEFAULT_SCALING, ThreadScaler } from '../../../webhook/thread-scaling.ts';

const policy = { ...DEFAULT_SCALING, maxThreads: 3, idleMs: 10_000 };

describe('ThreadScaler: elastic admission threads', () => {
  test('adds a thread when the running ones are busy on average, up to --workers', () => {
    const s = new ThreadScaler(policy, 0);
    assert.equal(s.decide(500, [0.3]), 'hold');
    assert.equal(s.decide(1_000, [0.95]), 'add');
    assert.equal(s.decide(1_500, [0.9, 0.4]), 'hold', 'mean 0.65: not busy');
    assert.equal(s.decide(2_000, [0.9, 0.6]), 'add');
    assert.equal(s.decide(2_500, [1, 1, 1]), 'hold', 'already --workers threads');
  });

  test('removes one only after the load has fit in one thread fewer for the whole idle timeout', () => {
    const s = new ThreadScaler(policy, 0);
    // two threads carrying 0.5 in all: one thread could not stay below 0.35, so both are needed
    assert.equal(s.decide(5_000, [0.25, 0.25]), 'hold');
    assert.equal(s.decide(14_000, [0.2, 0.1]), 'hold', 'fits since 5 s only');
    assert.equal(s.decide(14_999, [0.05, 0.05]), 'hold');
    assert.equal(s.decide(15_000, [0.05, 0.05]), 'remove');
    // the clock starts again for the next one
    assert.equal(s.decide(15_500, [0.05, 0.0, 0.0]), 'hold');
    assert.equal(s.decide(25_500, [0.05, 0.0, 0.0]), 'remove');
  });

  test('a burst in the idle time restarts the clock', () => {
    const s = new ThreadScaler(policy, 0);
    assert.equal(s.decide(9_000, [0.1, 0.1]), 'hold');
    assert.equal(s.decide(9_500, [0.5, 0.3]), 'hold', 'needs both');
    assert.equal(s.decide(15_000, [0.1, 0.1]), 'hold');
    assert.equal(s.decide(19_500, [0.1, 0.1]), 'remove');
  });

  test('never removes the main thread, nor any with an infinite idle timeout (--worker-idle-timeout=0)', () => {
    const s = new ThreadScaler(policy, 0);
    assert.equal(s.decide(1e9, [0]), 'hold');
    const eager = new ThreadScaler({ ...policy, idleMs: Infinity }, 0);
    assert.equal(eager.decide(1e12, [0, 0, 0]), 'hold');
  });
});

describe('connectionsToShed: spreading keep-alive clients over the threads', () => {
  test('a fresh thread next to a saturated main one: half the imbalance, corrected for reconnections that land back', () => {
    // mean 0.5, excess 50% of main's load; a reconnection leaves the main thread 1/2 of the time
    assert.equal(connectionsToShed(1, [1, 0], 64), 32);
    assert.equal(connectionsToShed(1, [1, 0, 0], 60), 30);
  });

  test('nothing when balanced, when the main thread is not busy, or when there is no other thread', () => {
    assert.equal(connectionsToShed(0.95, [0.95, 0.9], 64), 0);
    assert.equal(connectionsToShed(0.5, [0.5, 0], 64), 0);
    assert.equal(connectionsToShed(1, [1], 64), 0);
    assert.equal(connectionsToShed(1, [1, 0], 1), 0, 'one connection stays');
  });

  test('at most half of the main thread\'s connections per sample, whatever the load', () => {
    for (const threads of [2, 3, 4, 8]) {
      for (const main of [0.7, 0.8, 0.9, 1]) {
        for (const others of [0, 0.2, 0.5]) {
          for (const open of [2, 3, 10, 64, 1000]) {
            const shed = connectionsToShed(main, [main, ...Array<number>(threads - 1).fill(others)], open);
            assert.ok(shed >= 0 && shed <= Math.ceil(open / 2), `${shed} of ${open} (${threads} threads, main ${main}, others ${others})`);
          }
        }
      }
    }
  });
});
