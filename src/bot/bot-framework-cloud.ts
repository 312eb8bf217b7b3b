/** Public-cloud values of botframework-connector's AuthenticationConstants (botbuilder does not re-export them). */
export const PUBLIC_CLOUD = {
  loginUrl: 'https://login.microsoftonline.com/botframework.com',
  botFrameworkScope: 'https://api.botframework.com',
  channelOpenIdMetadataUrl: 'https://login.botframework.com/v1/.well-known/openidconfiguration',
  emulatorOpenIdMetadataUrl: 'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration',
} as const;
