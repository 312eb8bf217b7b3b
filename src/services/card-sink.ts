import type { AdaptiveCardJson } from '../cards/render';

/** Where cards go. The bot implements it with Bot Framework; tests can capture. */
export interface CardSink {
  update(conversationId: string, activityId: string, card: AdaptiveCardJson): Promise<void>;
  post(conversationId: string, card: AdaptiveCardJson): Promise<string | undefined>;
}
