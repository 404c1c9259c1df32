// What one attack of `npm run bench -- hostile` reports. `held` means it did no harm.
export interface AttackResult {
  name: string;
  held: boolean;
  crashes?: number;
  forged_accepted?: number;
  detail?: string;
  figures?: Record<string, number>;
}
