import { classifyPostFailure } from '../../src/services/post-outcome';
import { AppError } from '../../src/shared/errors';

/**
 * The shape botbuilder's connector client rejects with (a RestError from @azure/core-rest-pipeline,
 * which is not a direct dependency here): `statusCode` for an HTTP answer, `code` for a Node
 * network error.
 */
class RestError extends Error {
  readonly statusCode: number | undefined;
  readonly code: string | undefined;
  constructor(message: string, options: { statusCode?: number; code?: string }) {
    super(message);
    this.name = 'RestError';
    this.statusCode = options.statusCode;
    this.code = options.code;
  }
}

describe('what a failed post to Teams says about the card', () => {
  test.each([
    [new RestError('Too Many Requests', { statusCode: 429 }), 'not_taken'],
    [new RestError('Service Unavailable', { statusCode: 503 }), 'not_taken'],
    [new RestError('Forbidden', { statusCode: 403 }), 'not_taken'],
    [new RestError('Not Found', { statusCode: 404 }), 'not_taken'],
    [new RestError('connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED' }), 'not_taken'],
    [new RestError('getaddrinfo ENOTFOUND smba.trafficmanager.net', { code: 'ENOTFOUND' }), 'not_taken'],
    [new AppError('TEAMS.NOT_SENT', 'No conversation reference is stored'), 'not_taken'],
    [new RestError('Bad Gateway', { statusCode: 502 }), 'unknown'],
    [new RestError('Gateway Timeout', { statusCode: 504 }), 'unknown'],
    [new RestError('Internal Server Error', { statusCode: 500 }), 'unknown'],
    [new RestError('Request Timeout', { statusCode: 408 }), 'unknown'],
    [new RestError('socket hang up', { code: 'ECONNRESET' }), 'unknown'],
    [Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }), 'unknown'],
    ['a string thrown by someone', 'unknown'],
  ])('%s → %s', (err, outcome) => {
    expect(classifyPostFailure(err).outcome).toBe(outcome);
  });

  test('the reason names the status or code, for the note and the log', () => {
    expect(classifyPostFailure(new RestError('Bad Gateway', { statusCode: 502 })).reason).toBe(
      'Teams answered 502, which does not say whether the card arrived',
    );
    expect(classifyPostFailure(new RestError('socket hang up', { code: 'ECONNRESET' })).reason).toContain('ECONNRESET');
  });
});
