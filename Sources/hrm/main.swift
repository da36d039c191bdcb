import HRMCLI

HRMCommand.main()
