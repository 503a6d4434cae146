package store

// EventKind names what happened on a customer's timeline: the one vocabulary of the
// timeline, the dashboard's funnel (which passes these to SQL as arguments) and the
// views' labels. Kirim's webhook event types are Kirim's own, in package kirim.
type EventKind string

// The timeline's events.
const (
	EventCustomerCreated     EventKind = "customer.created"     // staff created it here
	EventCustomerImported    EventKind = "customer.imported"    // reconciliation or a webhook brought it
	EventCustomerUpdated     EventKind = "customer.updated"     // staff changed it here
	EventCustomerSynced      EventKind = "customer.synced"      // Kirim said it changed
	EventCustomerSuspended   EventKind = "customer.suspended"   //
	EventCustomerUnsuspended EventKind = "customer.unsuspended" //
	EventCustomerArchived    EventKind = "customer.archived"    //

	EventLinkIssued           EventKind = "link.issued"
	EventLinkRevoked          EventKind = "link.revoked"
	EventLinkExpired          EventKind = "link.expired"
	EventLinkRedirectsChanged EventKind = "link.redirects_changed"
	EventLinkFreshRequested   EventKind = "link.fresh_requested" // the customer asked on the landing page

	EventEmailQueued   EventKind = "email.queued"
	EventEmailSent     EventKind = "email.sent"
	EventEmailFailed   EventKind = "email.failed"
	EventEmailRequeued EventKind = "email.requeued"

	EventLandingOpened  EventKind = "landing.opened"
	EventLandingClicked EventKind = "landing.clicked" // set off for Kirim

	EventSignupSucceeded   EventKind = "signup.succeeded"   // a return Kirim confirmed
	EventSignupFailed      EventKind = "signup.failed"      // Kirim's failure redirect
	EventSignupUnconfirmed EventKind = "signup.unconfirmed" // a return Kirim did not confirm in time

	EventAccountConnected     EventKind = "account.connected"
	EventAccountAdded         EventKind = "account.added"
	EventAccountStatusChanged EventKind = "account.status_changed"

	EventTemplatesSynced     EventKind = "templates.synced"
	EventTemplatesSyncFailed EventKind = "templates.sync_failed"

	EventWebhookReceived EventKind = "webhook.received"

	EventBrandingChanged   EventKind = "settings.branding_changed"
	EventLogoChanged       EventKind = "settings.logo_changed"
	EventWebhookRegistered EventKind = "settings.webhook_registered"
)

// Onboarding stages, in the order a customer moves through them; kept on the customer
// for filtering the list (onboarding moves them).
const (
	StageCreated    = "created"
	StageLinkIssued = "link_issued"
	StageLinkSent   = "link_sent"
	StageOpened     = "opened"
	StageStarted    = "started"
	StageConnected  = "connected"
	StageFailed     = "failed"
)

// AttentionKind is why a customer needs a person, most pressing first.
type AttentionKind string

// The reasons of the needs-attention queue, in the order of their priority: a customer
// shows under the first that applies, with the others listed.
const (
	AttentionSignupFailed      AttentionKind = "signup_failed"      // Kirim's failure redirect
	AttentionUnconfirmed       AttentionKind = "unconfirmed"        // a return Kirim did not confirm
	AttentionNumberDown        AttentionKind = "number_down"        // a number disconnected or degraded
	AttentionEmailFailed       AttentionKind = "email_failed"       // the newest email to the customer failed
	AttentionLinkDead          AttentionKind = "link_dead"          // the newest link expired or was revoked
	AttentionNeverOpened       AttentionKind = "never_opened"       // every reminder sent, the page never opened
	AttentionTemplatesRejected AttentionKind = "templates_rejected" // Meta rejected templates
)

// AttentionKinds lists the kinds in priority order.
var AttentionKinds = []AttentionKind{AttentionSignupFailed, AttentionUnconfirmed, AttentionNumberDown,
	AttentionEmailFailed, AttentionLinkDead, AttentionNeverOpened, AttentionTemplatesRejected}

// More timeline events of the follow-up and the attention queue.
const (
	EventReminderQueued   EventKind = "follow_up.reminder_queued"
	EventFreshLinkAuto    EventKind = "follow_up.fresh_link"
	EventFollowUpPaused   EventKind = "follow_up.paused"
	EventFollowUpResumed  EventKind = "follow_up.resumed"
	EventAttentionSnoozed EventKind = "attention.snoozed"
	EventAttentionHandled EventKind = "attention.handled"
	EventStaffAlerted     EventKind = "alert.raised"
	// EventAttentionRaised is never on the timeline: a customer's new reason to need a
	// person, told to the event hook (outgoing webhooks) only.
	EventAttentionRaised EventKind = "attention.raised"
	EventFollowUpChanged EventKind = "settings.follow_up_changed"
	EventTimeZoneChanged EventKind = "customer.time_zone_changed"
)
