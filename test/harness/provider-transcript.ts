import { ProviderError, type SummaryValue } from '../../providers/types';

/**
 * What a provider test keeps of each call: every summary it returned and every error it threw go into
 * `transcript`, which the test searches for secret values at the end.
 */
export function providerTranscript(transcript: string[]) {
  const act = async <T extends { summary: Record<string, SummaryValue> }>(call: Promise<T>): Promise<T> => {
    const result = await call;
    transcript.push(JSON.stringify(result));
    return result;
  };
  const failure = async (call: Promise<unknown>): Promise<ProviderError> => {
    try {
      await call;
    } catch (error) {
      transcript.push(String(error), (error as Error).stack ?? '');
      expect(error).toBeInstanceOf(ProviderError);
      return error as ProviderError;
    }
    throw new Error('expected the action to fail');
  };
  return { act, failure };
}
