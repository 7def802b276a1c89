import { ProviderError, type ActionContext } from './types';
import type { SecretDestinationParams } from './roles/issuer';

/**
 * Hands a value a provider just minted to one of its destinations. A failure names the destination and the reason,
 * with the value cut out of any message that echoes it; it is retryable unless the destination said otherwise.
 */
export async function deliverMinted(
  system: string,
  destination: SecretDestinationParams,
  secret: string,
  ctx: ActionContext,
): Promise<void> {
  try {
    await ctx.deliverSecret(destination, secret);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split(secret).join('[redacted]') : 'unknown error';
    throw new ProviderError(
      `${system}: delivering the rotated credential to ${destination.provider}:${destination.target} failed (${reason})`,
      !(error instanceof ProviderError) || error.retryable,
      'DeliveryFailed',
    );
  }
}
