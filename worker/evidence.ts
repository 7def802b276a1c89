import type { Config } from '../lib/config';
import { openVault } from '../evidence';
import type { EvidenceStore } from '../providers/types';

/** The evidence vault under the data dir; every worker of a deployment must share it. */
export async function openEvidenceSink(config: Config): Promise<EvidenceStore> {
  return openVault({ dataDir: config.dataDir });
}
