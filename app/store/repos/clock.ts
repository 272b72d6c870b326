/** Milliseconds since the epoch. Injectable so tests can control ordering. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
