// What one attack of `npm run bench -- hostile` reports (issue 12).
export interface AttackResult {
  name: string;
  /** The attack did no harm. */
  held: boolean;
  crashes?: number;
  forged_accepted?: number;
  detail?: string;
  figures?: Record<string, number>;
}
