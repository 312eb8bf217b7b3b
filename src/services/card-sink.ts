import type { AdaptiveCardJson } from '../cards/render';

/** Per send: `signal` aborts when the caller stopped waiting (its deadline passed); the sink should stop sending. */
export interface CardSendOptions {
  signal?: AbortSignal;
}

/** Where cards go. The bot implements it with Bot Framework; tests can capture. */
export interface CardSink {
  update(conversationId: string, activityId: string, card: AdaptiveCardJson, options?: CardSendOptions): Promise<void>;
  post(conversationId: string, card: AdaptiveCardJson, options?: CardSendOptions): Promise<string | undefined>;
}
