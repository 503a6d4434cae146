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
