// What one attack of `npm run bench -- hostile` reports: did the agent hold, and the figures.
export interface AttackResult {
  name: string;
  held: boolean;
  crashes?: number;
  forged_accepted?: number;
  detail?: string;
  figures?: Record<string, number>;
}
