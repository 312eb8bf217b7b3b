// SyncShift in Azure: the bot on a Linux App Service (Node 24 LTS, run from package), an Azure Bot
// with the Teams channel, PostgreSQL flexible server for the store, Key Vault (RBAC) for every
// secret, and one user-assigned managed identity that reads Key Vault and calls Microsoft Graph.
// Deployed by teamsapp.yml (arm/deploy) with infra/azure.parameters.json; outputs land in env/.env.<env>.

// teamsapp.yml passes syncshift<env name>, so its length is the environment name's. Names below
// take() a part of it and add a hash of the resource group, to stay within each resource type's
// limit whatever the environment is called.
@description('Prefix for resource names, e.g. syncshiftdev: letters, digits, hyphens or underscores; any length from 3.')
@minLength(3)
param resourceBaseName string

param location string = resourceGroup().location

@description('Client id of the bot\'s Entra app registration (BOT_ID, created by aadApp/create).')
param botAadAppClientId string

@description('Tenant id of that app registration (BOT_TENANT_ID): the Microsoft 365 tenant the bot was registered in, which need not be the tenant of this Azure subscription.')
param botAadAppTenantId string

@description('Client secret of that app registration. Stored only in Key Vault.')
@secure()
param botAadAppClientSecret string

@maxLength(42)
param botDisplayName string = 'SyncShift'

@allowed([
  'F0'
  'S1'
])
param botServiceSku string = 'F0'

@description('App Service plan SKU (Linux). B1 or larger: the bot needs Always On for the daily summaries.')
param webAppSku string = 'B1'

param postgresAdminLogin string = 'syncshiftadmin'

@description('PostgreSQL administrator password (SECRET_POSTGRES_ADMIN_PASSWORD). Set on the server only: the bot does not use this login.')
@secure()
@minLength(12)
param postgresAdminPassword string

@description('The login the bot connects as: owner of the syncshift database and nothing else. infra/postgres-app-role.sql creates it.')
param postgresAppLogin string = 'syncshift_app'

@description('Its password (SECRET_POSTGRES_APP_PASSWORD). Stored only in Key Vault, inside DATABASE_URL.')
@secure()
@minLength(12)
param postgresAppPassword string

@description('SYNCSHIFT_AGENT_SECRETS for static agents: "agent-id:secret" pairs separated by commas, each secret 24+ characters. Empty (the default) when every agent enrolls with a code; then neither the Key Vault secret nor the setting exists.')
@secure()
param agentSecrets string = ''

@description('Microsoft Graph endpoint; change for national clouds, e.g. https://graph.microsoft.us.')
param graphBaseUrl string = 'https://graph.microsoft.com'

@description('Who the bot is towards Microsoft Graph (GRAPH_CLIENT_ID in env/.env.<env>): "managed-identity" for the identity below, which gets tokens only in this subscription\'s tenant; or the client id of an app registration in the Microsoft 365 tenant, whose secret an officer puts into this vault as "graph-client-secret" (docs/deploy.md, "When the tenants differ").')
@minLength(1)
param graphClientId string

@description('The Microsoft 365 tenant that app registration lives in (BOT_TENANT_ID). Used only with an app registration.')
param graphTenantId string

@description('SYNCSHIFT_APPROVERS: Entra object ids of the people who may approve mutating steps, comma separated.')
param approvers string = ''

@description('SYNCSHIFT_REQUIRED_APPROVALS: approvals needed per request; the approver list must hold at least one more.')
@minLength(1)
param requiredApprovals string = '1'

@description('SYNCSHIFT_APPROVAL_TTL_MINUTES: how long an approval request stays open.')
@minLength(1)
param approvalTtlMinutes string = '60'

@description('HMAC key for export links, shared by every instance. Left out of the parameters file, a new one is made on each provision (old links stop working).')
@secure()
@minLength(32)
param linkSigningKey string = '${newGuid()}${newGuid()}'

@description('Object id of the person or group that rotates the Key Vault secrets (the bot\'s client secret expires) and sets graph-client-secret. Required: with RBAC, not even the subscription owner can write secrets without this role.')
@minLength(36)
param keyVaultSecretsOfficerPrincipalId string

@description('Purge protection cannot be turned off again; leave it on except for throwaway environments.')
param keyVaultPurgeProtection bool = true

// Lowercase letters, digits and hyphens are valid in every name below; underscores are not in all.
var baseName = replace(toLower(resourceBaseName), '_', '-')
var hash = uniqueString(resourceGroup().id, baseName)
var suffix = take(hash, 6)
// Limits (Azure naming rules): Web App 2-60 and globally unique, PostgreSQL server 3-63 lowercase,
// Key Vault 3-24 and globally unique, App Service plan 1-60, Azure Bot 2-64, identity 3-128.
var webAppName = '${take(baseName, 40)}-${suffix}'
var keyVaultName = 'kv${hash}'
var postgresServerName = '${take(baseName, 40)}-pg-${suffix}'
var planName = '${take(baseName, 40)}-plan'
var identityName = '${take(baseName, 40)}-id'
var botName = '${take(baseName, 40)}-bot-${suffix}'
var databaseName = 'syncshift'
var graphUsesManagedIdentity = graphClientId == 'managed-identity'
var tags = {
  app: 'syncshift'
}
// Built-in role ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

// ---------------------------------------------------------------------------------------------
// Identity: reads Key Vault references and gets Graph tokens (GRAPH_CLIENT_ID). Graph application
// permissions are granted to its service principal after provisioning (docs/deploy.md, "Deploy to Azure").

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

// ---------------------------------------------------------------------------------------------
// Key Vault with RBAC; the identity gets "Key Vault Secrets User" (read secret values only).

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: keyVaultPurgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
  }
}

resource botPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'bot-app-password'
  properties: {
    value: botAadAppClientSecret
    contentType: 'text/plain'
  }
}

resource databaseUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'database-url'
  properties: {
    // verify-full: TLS is required and the server certificate (a public CA) is checked.
    value: 'postgres://${postgresAppLogin}:${uriComponent(postgresAppPassword)}@${postgres.properties.fullyQualifiedDomainName}:5432/${databaseName}?sslmode=verify-full'
    contentType: 'text/plain'
  }
}

resource agentSecretsSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(agentSecrets)) {
  parent: keyVault
  name: 'agent-secrets'
  properties: {
    value: agentSecrets
    contentType: 'text/plain'
  }
}

resource linkSigningKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'link-signing-key'
  properties: {
    value: linkSigningKey
    contentType: 'text/plain'
  }
}

resource identityReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, identity.id, keyVaultSecretsUserRoleId)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource officerManagesSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, keyVaultSecretsOfficerPrincipalId, keyVaultSecretsOfficerRoleId)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficerRoleId)
    principalId: keyVaultSecretsOfficerPrincipalId
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL flexible server 16, Burstable B1ms, TLS required (1.2 minimum), database "syncshift".

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: postgresServerName
  location: location
  tags: tags
  sku: {
    name: 'Standard_B1ms'
    tier: 'Burstable'
  }
  properties: {
    version: '16'
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    authConfig: {
      activeDirectoryAuth: 'Disabled'
      passwordAuth: 'Enabled'
    }
    storage: {
      storageSizeGB: 32
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

// The flexible server takes one change at a time, so the children below are chained.

// 0.0.0.0–0.0.0.0 is Azure's "allow Azure services" rule. For a private path use VNet integration
// and a delegated subnet instead (docs/deploy.md).
resource postgresAllowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: postgres
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource postgresDatabase 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    postgresAllowAzure
  ]
}

resource postgresRequireTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: postgres
  name: 'require_secure_transport'
  properties: {
    value: 'ON'
    source: 'user-override'
  }
  dependsOn: [
    postgresDatabase
  ]
}

resource postgresMinTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: postgres
  name: 'ssl_min_protocol_version'
  properties: {
    value: 'TLSv1.2'
    source: 'user-override'
  }
  dependsOn: [
    postgresRequireTls
  ]
}

// ---------------------------------------------------------------------------------------------
// App Service: Linux, Node 24 LTS, HTTPS only, TLS 1.2, settings from Key Vault references.
// Node 24 is the one line the code supports (package.json engines) and the one its tests run on
// (scripts/use-node.sh); test/unit/infra.test.ts keeps the three in step.

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: webAppSku
  }
  properties: {
    reserved: true
  }
}

resource webApp 'Microsoft.Web/sites@2023-12-01' = {
  name: webAppName
  location: location
  tags: tags
  kind: 'app,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      linuxFxVersion: 'NODE|24-lts'
      appCommandLine: 'node dist/main.js'
      alwaysOn: true
      http20Enabled: true
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      healthCheckPath: '/healthz'
    }
  }
}

// Deployments sign in with Entra ID (the toolkit's zip deploy sends a bearer token); nobody needs the
// site's FTP or SCM user name and password, so neither endpoint accepts them.
resource ftpBasicAuthOff 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: webApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuthOff 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: webApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// The settings are a child resource, not siteConfig.appSettings, so that PUBLIC_URL can take the
// host name Azure gave the site (webApp.properties.defaultHostName) instead of a guess at it. This
// resource replaces all settings at each provision: change settings here (or through a parameter),
// never in the portal.
var baseSettings = {
  WEBSITE_RUN_FROM_PACKAGE: '1'
  // The package is built by `npm run build` before zip deploy; no build on the server.
  SCM_DO_BUILD_DURING_DEPLOYMENT: 'false'
  NODE_ENV: 'production'
  MICROSOFT_APP_ID: botAadAppClientId
  MICROSOFT_APP_PASSWORD: '@Microsoft.KeyVault(SecretUri=${botPasswordSecret.properties.secretUri})'
  // The tenant the bot's app registration lives in; Bot Framework tokens are issued there.
  MICROSOFT_APP_TENANT_ID: botAadAppTenantId
  MICROSOFT_APP_TYPE: 'SingleTenant'
  DATABASE_URL: '@Microsoft.KeyVault(SecretUri=${databaseUrlSecret.properties.secretUri})'
  GRAPH_BASE_URL: graphBaseUrl
  SYNCSHIFT_LINK_SIGNING_KEY: '@Microsoft.KeyVault(SecretUri=${linkSigningKeySecret.properties.secretUri})'
  // Download links in cards point here.
  PUBLIC_URL: 'https://${webApp.properties.defaultHostName}'
  SYNCSHIFT_APPROVERS: approvers
  SYNCSHIFT_REQUIRED_APPROVALS: requiredApprovals
  SYNCSHIFT_APPROVAL_TTL_MINUTES: approvalTtlMinutes
}

// A managed identity gets tokens only in its own tenant, the subscription's: with no client secret
// the bot uses it. An app registration in the Microsoft 365 tenant reads that tenant instead; its
// secret is a Key Vault reference to a secret this template never writes, so a provision keeps it.
var graphSettings = graphUsesManagedIdentity
  ? {
      GRAPH_TENANT_ID: tenant().tenantId
      GRAPH_CLIENT_ID: identity.properties.clientId
    }
  : {
      GRAPH_TENANT_ID: graphTenantId
      GRAPH_CLIENT_ID: graphClientId
      GRAPH_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVault.properties.vaultUri}secrets/graph-client-secret)'
    }

// Static agents only when asked for; enrolled agents need no shared secret.
var agentSettings = empty(agentSecrets)
  ? {}
  : {
      SYNCSHIFT_AGENT_SECRETS: '@Microsoft.KeyVault(SecretUri=${keyVault.properties.vaultUri}secrets/agent-secrets)'
    }

resource webAppSettings 'Microsoft.Web/sites/config@2023-12-01' = {
  parent: webApp
  name: 'appsettings'
  properties: union(baseSettings, graphSettings, agentSettings)
  dependsOn: [
    // Key Vault references resolve at start; the role must exist first.
    identityReadsSecrets
    postgresMinTls
    // Skipped when agentSecrets is empty, and so is this dependency.
    agentSecretsSecret
  ]
}

// ---------------------------------------------------------------------------------------------
// Azure Bot (single tenant) pointing at /api/messages, with the Microsoft Teams channel.

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: botName
  location: 'global'
  tags: tags
  kind: 'azurebot'
  sku: {
    name: botServiceSku
  }
  properties: {
    displayName: botDisplayName
    endpoint: 'https://${webApp.properties.defaultHostName}/api/messages'
    msaAppId: botAadAppClientId
    msaAppType: 'SingleTenant'
    msaAppTenantId: botAadAppTenantId
  }
}

resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
    }
  }
}

// Written to env/.env.<env> by arm/deploy.
output AZURE_APP_SERVICE_RESOURCE_ID string = webApp.id
output BOT_DOMAIN string = webApp.properties.defaultHostName
output BOT_ENDPOINT string = 'https://${webApp.properties.defaultHostName}'
output SYNCSHIFT_RELAY_URL string = 'https://${webApp.properties.defaultHostName}'
output BOT_SERVICE_NAME string = bot.name
output MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.properties.principalId
output KEY_VAULT_NAME string = keyVault.name
output POSTGRES_SERVER_FQDN string = postgres.properties.fullyQualifiedDomainName
// The directory the bot reads through Graph: it must be BOT_TENANT_ID's (docs/deploy.md, "Deploy to Azure").
output GRAPH_READS_TENANT_ID string = graphUsesManagedIdentity ? tenant().tenantId : graphTenantId
