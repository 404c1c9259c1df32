// What one attack of `npm run bench -- hostile` reports (each area's bench/hostile/<area>.ts
// returns a list of these).
export interface AttackResult {
  name: string;
  /** The attack did no harm. */
  held: boolean;
  crashes?: number;
  forged_accepted?: number;
  detail?: string;
  figures?: Record<string, number>;
}
