"""GraphQL SDL served by the emulator.

Hand-written to fit the documents the ``kili`` SDK (26.2.x) sends, not a copy of Kili's real
schema. Filters (``*Where`` inputs) declare only the keys the emulator honours, so a filter it
does not implement is refused by graphql-core with an error naming the field, instead of being
silently ignored.
"""

from __future__ import annotations

import hashlib

SDL = """
"Page size of list queries (an Int between 0 and 500)."
scalar PageSize
"Any JSON value (the export's geospatialSettings)."
scalar JSON

enum AssetStatus { TODO ONGOING LABELED TO_REVIEW REVIEWED }
enum LabelType { AUTOSAVE DEFAULT INFERENCE PREDICTION REVIEW }
enum IssueType { ISSUE QUESTION }
enum IssueStatus { CANCELLED OPEN SOLVED }
enum PluginHandlerType { onSubmit onReview onCustomInterfaceClick onSendBackToQueue }

type User {
  id: ID!
  email: String!
  firstname: String
  lastname: String
}

type ApiKey {
  id: ID!
  key: String!
  name: String!
  expiryDate: String!
  createdAt: String!
}

type ProjectStep {
  id: ID!
  name: String!
  "DEFAULT (labeling) or REVIEW."
  type: String!
  "Workflow v3 only: the step group the step is in."
  stepGroupId: ID
}

"Workflow v3: a group of steps (a labeling step, then its review steps)."
type StepGroup {
  id: ID!
  name: String!
}

type ProjectRole {
  id: ID!
  role: String!
  user: User!
}

type Project {
  id: ID!
  title: String!
  description: String!
  inputType: String!
  "A JSON string, as Kili returns it."
  jsonInterface: String!
  steps: [ProjectStep!]!
  "Workflow v3 only (empty otherwise)."
  stepGroups: [StepGroup!]!
  workflowVersion: String!
  createdAt: String!
  numberOfAssets: Int!
  consensusTotCoverage: Int
  minConsensusSize: Int!
  reviewCoverage: Int!
  "The emulator's single user, as ADMIN."
  roles: [ProjectRole!]!
  "Always null: emulated projects are not geospatial (the SDK's exporters ask for it)."
  geospatialSettings: JSON
  "Always empty: emulated assets live in the emulator, not in a cloud bucket."
  dataConnections: [ProjectRef!]!
}

type Resolution {
  width: Int!
  height: Int!
}

"A page of a PDF asset; emulated assets have none (the SDK's exporters ask for them)."
type PageResolution {
  pageNumber: Int!
  width: Int!
  height: Int!
  rotation: Int!
}

type Label {
  id: ID!
  assetId: ID!
  labelOf: Asset!
  labelType: LabelType!
  "A JSON string, as Kili returns it."
  jsonResponse: String!
  "Always null: the emulator serves jsonResponse inline (empty for a label stored without it)."
  jsonResponseUrl: String
  author: User!
  authorId: ID!
  createdAt: String!
  updatedAt: String!
  secondsToLabel: Float
  modelName: String
  clientVersion: Int
  isLatestLabelForUser: Boolean!
  "Whether no later DEFAULT or REVIEW label exists on the asset (the SDK's exporters ask for it)."
  isLastForStep: Boolean!
  isSentBackToQueue: Boolean!
  numberOfAnnotations: Int!
  version: Int!
}

type AssetProject {
  id: ID!
}

enum StepStatus { TO_DO DOING PARTIALLY_DONE REWORK DONE SKIPPED }

type AssetStep {
  id: ID!
  name: String!
  status: StepStatus!
  type: String!
  "Workflow v3 only: the name of the step group of the step."
  stepGroupName: String
}

type AssetRef {
  id: ID!
}

type IssueRef {
  id: ID!
}

type Asset {
  id: ID!
  externalId: String!
  "Workflow v2 only: the step the asset is in."
  currentStep: AssetStep
  content: String!
  "A JSON string."
  jsonContent: String!
  "A JSON string."
  jsonMetadata: String!
  status: AssetStatus!
  skipped: Boolean!
  isHoneypot: Boolean!
  priority: Int!
  createdAt: String!
  updatedAt: String!
  resolution: Resolution
  pageResolutions: [PageResolution!]!
  project: AssetProject!
  labels: [Label!]!
  "The latest DEFAULT or REVIEW label."
  latestLabel: Label
  "The latest DEFAULT or REVIEW label of each author."
  latestLabels: [Label!]!
}

type Comment {
  id: ID!
  text: String!
  createdAt: String!
  authorId: ID!
  authorIdUser: ID!
}

type Issue {
  id: ID!
  issueNumber: Int!
  type: IssueType!
  status: IssueStatus!
  objectMid: String
  "The label the issue was created on (null for an asset-level issue)."
  labelId: ID
  assetId: ID!
  projectId: ID!
  createdAt: String!
  updatedAt: String!
  hasBeenSeen: Boolean!
  author: User!
  comments: [Comment!]!
}

type AssetOutcome {
  assetId: ID!
  externalId: String
}

type AssetFailure {
  assetId: ID!
  externalId: String
  details: String!
}

type AssetActionOutcome {
  succeeded: [AssetOutcome!]!
  declined: [AssetOutcome!]!
  failed: [AssetFailure!]!
}

type ProjectRef {
  id: ID!
}

input ApiKeyWhere {
  key: String
}

input ProjectWhere {
  id: ID
}

input AssetLabelWhere {
  typeIn: [LabelType!]
}

input AssetIssueWhere {
  type: IssueType
  status: IssueStatus
}

input AssetWhere {
  id: ID
  idIn: [ID!]
  idNotIn: [ID!]
  project: ProjectWhere
  externalIdIn: [String!]
  externalIdStrictlyIn: [String!]
  statusIn: [AssetStatus!]
  "ISO-8601 UTC bounds (inclusive), e.g. 2026-01-31T00:00:00.000Z."
  updatedAtGte: String
  updatedAtLte: String
  createdAtGte: String
  createdAtLte: String
  skipped: Boolean
  label: AssetLabelWhere
  issue: AssetIssueWhere
}

input LabelWhere {
  id: ID
  idIn: [ID!]
  project: ProjectWhere
  asset: AssetWhere
  typeIn: [LabelType!]
}

input IssueWhere {
  id: ID
  project: ProjectWhere
  asset: AssetWhere
  assetIn: [ID!]
  status: IssueStatus
  type: IssueType
}

input IssueData {
  status: IssueStatus
}

input AssetData {
  "A JSON string; replaces the asset's metadata."
  jsonMetadata: String
  priority: Int
  externalId: String
}

input IssueToCreate {
  labelID: ID
  assetId: ID
  objectMid: String
  type: IssueType!
  text: String
}

input AppendLabelData {
  assetID: ID!
  authorID: ID
  clientVersion: Int
  "A JSON string."
  jsonResponse: String!
  modelName: String
  referencedLabelId: ID
  secondsToLabel: Float
}

input AppendManyLabelsData {
  labelType: LabelType!
  overwrite: Boolean
  labelsData: [AppendLabelData!]!
}

input WebhookData {
  pluginName: String!
  webhookUrl: String!
  header: String
  handlerTypes: [PluginHandlerType!]
  eventMatcher: [String!]
}

input PluginProjectWhere {
  pluginName: String!
  projectId: ID!
}

type Query {
  viewer: User!
  apiKeys(where: ApiKeyWhere!, first: PageSize!, skip: Int!): [ApiKey!]!
  projects(where: ProjectWhere!, first: PageSize!, skip: Int!): [Project!]!
  countProjects(where: ProjectWhere!): Int!
  assets(where: AssetWhere!, first: PageSize!, skip: Int!): [Asset!]!
  countAssets(where: AssetWhere!): Int!
  labels(where: LabelWhere!, first: PageSize!, skip: Int!): [Label!]!
  countLabels(where: LabelWhere!): Int!
  issues(where: IssueWhere!, first: PageSize!, skip: Int!): [Issue!]!
  countIssues(where: IssueWhere!): Int!
}

type Mutation {
  appendManyLabels(data: AppendManyLabelsData!, where: AssetWhere!): [Label!]!
  createIssues(issues: [IssueToCreate!]!, where: AssetWhere!): [Issue!]!
  "kili >= 26.2.1"
  sendAssetsBackToQueue(where: AssetWhere!): AssetActionOutcome!
  "kili <= 26.2.0"
  sendBackAssetsToQueue(where: AssetWhere!): ProjectRef!
  "update_issue_status, issues.solve / cancel / open"
  updatePropertiesInIssue(data: IssueData!, where: IssueWhere!): IssueRef!
  "add_to_review, assets.move_to_next_step"
  addAssetsToReview(where: AssetWhere!): AssetActionOutcome!
  "update_properties_in_assets, add_metadata, set_metadata"
  updatePropertiesInAssets(where: [AssetWhere!]!, data: [AssetData!]!): [AssetRef!]!
  createWebhook(data: WebhookData!): String!
  updateWebhook(data: WebhookData!): String!
  activatePluginOnProject(where: PluginProjectWhere!): String!
  deactivatePluginOnProject(where: PluginProjectWhere!): String!
}
"""

# Served at /version: the SDK names its schema cache file after it, so a changed SDL never
# meets a stale cached copy.
SCHEMA_VERSION = "kili-rules-emulator-" + hashlib.sha256(SDL.encode()).hexdigest()[:16]
