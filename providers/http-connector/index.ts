export {
  createHttpConnectorProvider,
  httpConnectorCatalog,
  HTTP_CONNECTOR,
  type HttpConnectorOptions,
  type HttpConnectorProvider,
} from './provider';
export {
  ConnectorConfigError,
  connectorDefinition,
  loadConnectorFile,
  parseConnectorConfig,
  type ConnectorDefinition,
  type ConnectorDefinitionInput,
} from './schema';
