//! Message type codes of the GSM layer-3 protocols, with their specification
//! names in snake_case (the keys of `cell_messages` counts).
//!
//! RR: TS 44.018 table 10.4.1. MM, CC: TS 24.008 tables 10.2 and 10.3 (6-bit
//! codes; the two high bits are the send sequence number). GMM, SM: TS 24.008
//! tables 10.4 and 10.4a. SMS CP: TS 24.011 §8.1.3. SS: TS 24.080 table 3.1.

// `named_enum!` is in textual scope: it is defined in the parent module before `mod types`.

named_enum! {
    /// Radio resource management message types (TS 44.018 table 10.4.1).
    pub enum RrType(u8) {
        SystemInformation13 = 0x00 => "system_information_13",
        SystemInformation2bis = 0x02 => "system_information_2bis",
        SystemInformation2ter = 0x03 => "system_information_2ter",
        SystemInformation9 = 0x04 => "system_information_9",
        SystemInformation5bis = 0x05 => "system_information_5bis",
        SystemInformation5ter = 0x06 => "system_information_5ter",
        SystemInformation2quater = 0x07 => "system_information_2quater",
        CellChangeOrder = 0x08 => "cell_change_order",
        VgcsUplinkGrant = 0x09 => "vgcs_uplink_grant",
        PartialRelease = 0x0a => "partial_release",
        UplinkFree = 0x0c => "uplink_free",
        ChannelRelease = 0x0d => "channel_release",
        UplinkRelease = 0x0e => "uplink_release",
        PartialReleaseComplete = 0x0f => "partial_release_complete",
        ChannelModeModify = 0x10 => "channel_mode_modify",
        TalkerIndication = 0x11 => "talker_indication",
        RrStatus = 0x12 => "rr_status",
        ClassmarkEnquiry = 0x13 => "classmark_enquiry",
        FrequencyRedefinition = 0x14 => "frequency_redefinition",
        MeasurementReport = 0x15 => "measurement_report",
        ClassmarkChange = 0x16 => "classmark_change",
        ChannelModeModifyAcknowledge = 0x17 => "channel_mode_modify_acknowledge",
        SystemInformation8 = 0x18 => "system_information_8",
        SystemInformation1 = 0x19 => "system_information_1",
        SystemInformation2 = 0x1a => "system_information_2",
        SystemInformation3 = 0x1b => "system_information_3",
        SystemInformation4 = 0x1c => "system_information_4",
        SystemInformation5 = 0x1d => "system_information_5",
        SystemInformation6 = 0x1e => "system_information_6",
        SystemInformation7 = 0x1f => "system_information_7",
        NotificationNch = 0x20 => "notification_nch",
        PagingRequest1 = 0x21 => "paging_request_1",
        PagingRequest2 = 0x22 => "paging_request_2",
        PdchAssignmentCommand = 0x23 => "pdch_assignment_command",
        PagingRequest3 = 0x24 => "paging_request_3",
        NotificationResponse = 0x26 => "notification_response",
        PagingResponse = 0x27 => "paging_response",
        HandoverFailure = 0x28 => "handover_failure",
        AssignmentComplete = 0x29 => "assignment_complete",
        UplinkBusy = 0x2a => "uplink_busy",
        HandoverCommand = 0x2b => "handover_command",
        HandoverComplete = 0x2c => "handover_complete",
        PhysicalInformation = 0x2d => "physical_information",
        AssignmentCommand = 0x2e => "assignment_command",
        AssignmentFailure = 0x2f => "assignment_failure",
        ConfigurationChangeCommand = 0x30 => "configuration_change_command",
        ConfigurationChangeAck = 0x31 => "configuration_change_ack",
        CipheringModeComplete = 0x32 => "ciphering_mode_complete",
        ConfigurationChangeReject = 0x33 => "configuration_change_reject",
        GprsSuspensionRequest = 0x34 => "gprs_suspension_request",
        CipheringModeCommand = 0x35 => "ciphering_mode_command",
        ExtendedMeasurementReport = 0x36 => "extended_measurement_report",
        ExtendedMeasurementOrder = 0x37 => "extended_measurement_order",
        ApplicationInformation = 0x38 => "application_information",
        ImmediateAssignmentExtended = 0x39 => "immediate_assignment_extended",
        ImmediateAssignmentReject = 0x3a => "immediate_assignment_reject",
        AdditionalAssignment = 0x3b => "additional_assignment",
        RrInitialisationRequest = 0x3c => "rr_initialisation_request",
        SystemInformation16 = 0x3d => "system_information_16",
        SystemInformation17 = 0x3e => "system_information_17",
        ImmediateAssignment = 0x3f => "immediate_assignment",
        SystemInformation18 = 0x40 => "system_information_18",
        SystemInformation19 = 0x41 => "system_information_19",
        SystemInformation20 = 0x42 => "system_information_20",
        DtmAssignmentFailure = 0x48 => "dtm_assignment_failure",
        DtmReject = 0x49 => "dtm_reject",
        DtmRequest = 0x4a => "dtm_request",
        PacketAssignment = 0x4b => "packet_assignment",
        DtmAssignmentCommand = 0x4c => "dtm_assignment_command",
        DtmInformation = 0x4d => "dtm_information",
        PacketNotification = 0x4e => "packet_notification",
        UtranClassmarkChange = 0x60 => "utran_classmark_change",
        Cdma2000ClassmarkChange = 0x62 => "cdma2000_classmark_change",
        InterSystemToUtranHandoverCommand = 0x63 => "inter_system_to_utran_handover_command",
        InterSystemToCdma2000HandoverCommand = 0x64 => "inter_system_to_cdma2000_handover_command",
    }
}

named_enum! {
    /// Mobility management message types (TS 24.008 table 10.2).
    pub enum MmType(u8) {
        ImsiDetachIndication = 0x01 => "imsi_detach_indication",
        LocationUpdatingAccept = 0x02 => "location_updating_accept",
        LocationUpdatingReject = 0x04 => "location_updating_reject",
        LocationUpdatingRequest = 0x08 => "location_updating_request",
        AuthenticationReject = 0x11 => "authentication_reject",
        AuthenticationRequest = 0x12 => "authentication_request",
        AuthenticationResponse = 0x14 => "authentication_response",
        IdentityRequest = 0x18 => "identity_request",
        IdentityResponse = 0x19 => "identity_response",
        TmsiReallocationCommand = 0x1a => "tmsi_reallocation_command",
        TmsiReallocationComplete = 0x1b => "tmsi_reallocation_complete",
        AuthenticationFailure = 0x1c => "authentication_failure",
        CmServiceAccept = 0x21 => "cm_service_accept",
        CmServiceReject = 0x22 => "cm_service_reject",
        CmServiceAbort = 0x23 => "cm_service_abort",
        CmServiceRequest = 0x24 => "cm_service_request",
        CmServicePrompt = 0x25 => "cm_service_prompt",
        CmReestablishmentRequest = 0x28 => "cm_reestablishment_request",
        Abort = 0x29 => "abort",
        MmNull = 0x30 => "mm_null",
        MmStatus = 0x31 => "mm_status",
        MmInformation = 0x32 => "mm_information",
    }
}

named_enum! {
    /// Call control message types (TS 24.008 table 10.3).
    pub enum CcType(u8) {
        Alerting = 0x01 => "alerting",
        CallProceeding = 0x02 => "call_proceeding",
        Progress = 0x03 => "progress",
        CcEstablishment = 0x04 => "cc_establishment",
        Setup = 0x05 => "setup",
        CcEstablishmentConfirmed = 0x06 => "cc_establishment_confirmed",
        Connect = 0x07 => "connect",
        CallConfirmed = 0x08 => "call_confirmed",
        StartCc = 0x09 => "start_cc",
        Recall = 0x0b => "recall",
        EmergencySetup = 0x0e => "emergency_setup",
        ConnectAcknowledge = 0x0f => "connect_acknowledge",
        UserInformation = 0x10 => "user_information",
        ModifyReject = 0x13 => "modify_reject",
        Modify = 0x17 => "modify",
        Hold = 0x18 => "hold",
        HoldAcknowledge = 0x19 => "hold_acknowledge",
        HoldReject = 0x1a => "hold_reject",
        Retrieve = 0x1c => "retrieve",
        RetrieveAcknowledge = 0x1d => "retrieve_acknowledge",
        RetrieveReject = 0x1e => "retrieve_reject",
        ModifyComplete = 0x1f => "modify_complete",
        Disconnect = 0x25 => "disconnect",
        ReleaseComplete = 0x2a => "release_complete",
        Release = 0x2d => "release",
        StopDtmf = 0x31 => "stop_dtmf",
        StopDtmfAcknowledge = 0x32 => "stop_dtmf_acknowledge",
        StatusEnquiry = 0x34 => "status_enquiry",
        StartDtmf = 0x35 => "start_dtmf",
        StartDtmfAcknowledge = 0x36 => "start_dtmf_acknowledge",
        StartDtmfReject = 0x37 => "start_dtmf_reject",
        CongestionControl = 0x39 => "congestion_control",
        Facility = 0x3a => "facility",
        Status = 0x3d => "status",
        Notify = 0x3e => "notify",
    }
}

named_enum! {
    /// GPRS mobility management message types (TS 24.008 table 10.4).
    pub enum GmmType(u8) {
        AttachRequest = 0x01 => "attach_request",
        AttachAccept = 0x02 => "attach_accept",
        AttachComplete = 0x03 => "attach_complete",
        AttachReject = 0x04 => "attach_reject",
        DetachRequest = 0x05 => "detach_request",
        DetachAccept = 0x06 => "detach_accept",
        RoutingAreaUpdateRequest = 0x08 => "routing_area_update_request",
        RoutingAreaUpdateAccept = 0x09 => "routing_area_update_accept",
        RoutingAreaUpdateComplete = 0x0a => "routing_area_update_complete",
        RoutingAreaUpdateReject = 0x0b => "routing_area_update_reject",
        ServiceRequest = 0x0c => "service_request",
        ServiceAccept = 0x0d => "service_accept",
        ServiceReject = 0x0e => "service_reject",
        PtmsiReallocationCommand = 0x10 => "p_tmsi_reallocation_command",
        PtmsiReallocationComplete = 0x11 => "p_tmsi_reallocation_complete",
        AuthenticationAndCipheringRequest = 0x12 => "authentication_and_ciphering_request",
        AuthenticationAndCipheringResponse = 0x13 => "authentication_and_ciphering_response",
        AuthenticationAndCipheringReject = 0x14 => "authentication_and_ciphering_reject",
        IdentityRequest = 0x15 => "identity_request",
        IdentityResponse = 0x16 => "identity_response",
        AuthenticationAndCipheringFailure = 0x1c => "authentication_and_ciphering_failure",
        GmmStatus = 0x20 => "gmm_status",
        GmmInformation = 0x21 => "gmm_information",
    }
}

named_enum! {
    /// GPRS session management message types (TS 24.008 table 10.4a).
    pub enum SmType(u8) {
        ActivatePdpContextRequest = 0x41 => "activate_pdp_context_request",
        ActivatePdpContextAccept = 0x42 => "activate_pdp_context_accept",
        ActivatePdpContextReject = 0x43 => "activate_pdp_context_reject",
        RequestPdpContextActivation = 0x44 => "request_pdp_context_activation",
        RequestPdpContextActivationReject = 0x45 => "request_pdp_context_activation_reject",
        DeactivatePdpContextRequest = 0x46 => "deactivate_pdp_context_request",
        DeactivatePdpContextAccept = 0x47 => "deactivate_pdp_context_accept",
        ModifyPdpContextRequestNetwork = 0x48 => "modify_pdp_context_request_network_to_ms",
        ModifyPdpContextAcceptMs = 0x49 => "modify_pdp_context_accept_ms_to_network",
        ModifyPdpContextRequestMs = 0x4a => "modify_pdp_context_request_ms_to_network",
        ModifyPdpContextAcceptNetwork = 0x4b => "modify_pdp_context_accept_network_to_ms",
        ModifyPdpContextReject = 0x4c => "modify_pdp_context_reject",
        ActivateSecondaryPdpContextRequest = 0x4d => "activate_secondary_pdp_context_request",
        ActivateSecondaryPdpContextAccept = 0x4e => "activate_secondary_pdp_context_accept",
        ActivateSecondaryPdpContextReject = 0x4f => "activate_secondary_pdp_context_reject",
        SmStatus = 0x55 => "sm_status",
    }
}

named_enum! {
    /// Short message control protocol message types (TS 24.011 §8.1.3).
    pub enum SmsType(u8) {
        CpData = 0x01 => "cp_data",
        CpAck = 0x04 => "cp_ack",
        CpError = 0x10 => "cp_error",
    }
}

named_enum! {
    /// Non-call-related supplementary service message types (TS 24.080 table 3.1).
    pub enum SsType(u8) {
        ReleaseComplete = 0x2a => "release_complete",
        Facility = 0x3a => "facility",
        Register = 0x3b => "register",
    }
}
